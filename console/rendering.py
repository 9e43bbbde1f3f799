"""Customer pages rendered from ``console/templates`` (Jinja2, autoescaped), texts from
``console.i18n``.

Everything the pages show that came from outside (a ticket reference, key text, a slot) goes
through Jinja's autoescape, so no route builds HTML by hand. Errors on a customer page opened in
a browser (rate limit, bad request, outage…) become a small page in the same layout; JSON
clients keep the JSON body, whatever handler produced it.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from console import i18n, local_time

HERE = Path(__file__).parent
#: no caching (links are personal), no referrer (the token is in the URL), styles from us only
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
           "X-Robots-Tag": "noindex", "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                                      "img-src 'self'; "
                                      "form-action 'self'; frame-ancestors 'none'"}

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"], default_for_string=True),
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
local_time.install(environment)
templates = Jinja2Templates(env=environment)


def render(request: Request, template: str, lang: str, *, status: int = 200,
           headers: Mapping[str, str] | None = None, **context: Any) -> HTMLResponse:
    """``template`` in ``lang`` (English when the desk does not speak it): ``t("key")`` in the
    template reads the catalogue of that language."""
    lang = i18n.pick(lang)
    return templates.TemplateResponse(
        request, template, {**context, "lang": lang, "t": partial(i18n.t, lang)},
        status_code=status, headers={**HEADERS, **(headers or {})})


def link_refused(request: Request) -> HTMLResponse:
    """The one page for an expired, tampered, misdirected or unknown link: it knows no ticket,
    so its language is the browser's."""
    return render(request, "link_refused.html", language_of(request), status=403)


def language_of(request: Request) -> str:
    return i18n.negotiate(request.headers.get("accept-language"))


def wants_page(request: Request) -> bool:
    """A browser on a customer page (and not a script asking for JSON there)."""
    accept = request.headers.get("accept", "")
    return (request.url.path.startswith(("/customer/", "/session")) and "text/html" in accept
            and "application/json" not in accept
            and request.query_params.get("format") != "json"
            and not request.headers.get("content-type", "").startswith("application/json"))


#: which message of error.html a status shows (any other 4xx: "invalid", 5xx: "internal")
ERROR_KINDS = {404: "not_found", 409: "conflict", 413: "too_large", 503: "unavailable"}


def error_page(request: Request, answer: Response) -> Response:
    """``answer`` (an error in the JSON shape) as a page, same status and headers."""
    status = answer.status_code
    headers = {k: v for k, v in answer.headers.items() if k.lower() == "retry-after"}
    lang = language_of(request)
    if status == 429:
        return render(request, "rate_limited.html", lang, status=status, headers=headers,
                      seconds=_seconds(answer))
    kind = ERROR_KINDS.get(status, "internal" if status >= 500 else "invalid")
    return render(request, "error.html", lang, status=status, headers=headers, kind=kind)


def _seconds(answer: Response) -> int:
    try:
        return int(json.loads(bytes(answer.body))["retry_after"])
    except (ValueError, KeyError, TypeError):
        return int(answer.headers.get("retry-after", "1"))


Handler = Callable[[Request, Exception], Any]


def _as_page(handler: Handler) -> Handler:
    async def handle(request: Request, err: Exception) -> Response:
        answer = handler(request, err)
        if inspect.isawaitable(answer):
            answer = await answer
        if isinstance(answer, Response) and answer.status_code >= 400 and wants_page(request):
            return error_page(request, answer)
        return answer  # type: ignore[no-any-return]
    return handle


def install(app: FastAPI) -> None:
    """Serve ``/static`` and turn the error answers of the handlers installed so far into
    pages for browsers on customer pages (call it after the other ``install``s)."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for kind, handler in list(app.exception_handlers.items()):
        app.exception_handlers[kind] = _as_page(handler)
