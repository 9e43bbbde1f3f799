"""How an agent page is answered: a template under ``console/templates/agent`` in the common
layout (header, navigation, the vendored htmx, the one stylesheet) with strict headers.

Every script and style comes from this origin (the Content-Security-Policy says so): htmx is
told not to inject its indicator style and never to evaluate strings, and the pages carry no
inline script.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import HTMLResponse

from console import assets
from console.rendering import templates

HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin",
           "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                                      "img-src 'self' data:; connect-src 'self'; "
                                      "form-action 'self'; frame-ancestors 'none'; "
                                      "base-uri 'none'; object-src 'none'"}


class Viewer(Protocol):
    """The signed-in agent as the layout shows it (``console.sessions.Signed``)."""

    @property
    def login(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def csrf(self) -> str | None: ...


@dataclass(frozen=True)
class NavLink:
    label: str
    href: str
    roles: tuple[str, ...] = ("agent", "supervisor")


#: the header's links, in order: only pages that exist (a new page adds its link here, with
#: the roles that may open it)
NAV: list[NavLink] = [NavLink("Queue", "/queue"), NavLink("Escalating soon", "/queue/escalating"),
                      NavLink("Ops", "/ops", ("supervisor",))]


def nav_for(role: str) -> list[NavLink]:
    return [link for link in NAV if role in link.roles]


def page(request: Request, template: str, me: Viewer | None, *, status: int = 200,
         headers: Mapping[str, str] | None = None, **context: Any) -> HTMLResponse:
    """``template`` for ``me`` (None on the sign-in and refusal pages: no header)."""
    return templates.TemplateResponse(
        request, template,
        {**context, "me": me, "nav": nav_for(me.role) if me else [], "assets": assets},
        status_code=status, headers={**HEADERS, **(headers or {})})
