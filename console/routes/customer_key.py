"""The customer's pages behind the signed links of the reset-key email.

Mail scanners open links, so a GET never acts: the confirm and report pages show one button,
and only its POST records the answer (a second POST says "already recorded" and moves nothing).
The artifact link shows the codes or key, or downloads the encrypted file — reading is no action.
Every link is checked (signature, action, expiry) before anything is read; a bad one gets the
same page whatever was wrong with it.
"""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse, Response

from console.auth import deps
from console.deps import WebDeps
from workflow.adapters import links
from workflow.adapters.artifact_store import AesGcmSealer, store_for
from workflow.domain.actors import CUSTOMER
from workflow.domain.errors import TicketNotFound
from workflow.domain.reset_keys import utc_text
from workflow.service.commands import ReportKey
from workflow.service.reset_keys import (
    AnswerResult,
    KeyAnswer,
    KeyView,
    view_key,
)

router = APIRouter(prefix="/customer/key", tags=["customers"], include_in_schema=False)
Deps = Annotated[WebDeps, Depends(deps)]

HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
           "X-Robots-Tag": "noindex", "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                      "form-action 'self'; frame-ancestors 'none'"}

TEXT = {
    "en": {
        "title": "Your password reset", "ref": "Reference",
        "confirm_q": "Did the reset key work? Press the button once your device is unlocked.",
        "confirm_b": "Yes, it worked",
        "report_q": "Did the reset key not work, or has it expired? Tell us and we will ask you "
                    "for a new export from the device.",
        "report_b": "It did not work",
        "confirmed": "Thank you: your request is now closed.",
        "reported": "Thank you: we have emailed you how to send us a new export.",
        "already": "Your answer was already recorded. Nothing more to do.",
        "not_waiting": "This request is no longer waiting for an answer about a reset key.",
        "bad_link": "This link is not valid or has expired.",
        "valid": "Valid until", "expired": "This reset key has expired: use the report link in "
                                           "our email to get a new one.",
        "warning": "Do not reboot the device and do not export its request again before you "
                   "have used this key: either would make it invalid.",
        "codes": "Your reset codes", "key": "Your reset key",
    },
    "fr": {
        "title": "Votre réinitialisation", "ref": "Référence",
        "confirm_q": "La clé de réinitialisation a-t-elle fonctionné ? Appuyez sur le bouton "
                     "une fois votre appareil déverrouillé.",
        "confirm_b": "Oui, cela a fonctionné",
        "report_q": "La clé n'a pas fonctionné ou a expiré ? Dites-le-nous : nous vous "
                    "demanderons un nouvel export de l'appareil.",
        "report_b": "Cela n'a pas fonctionné",
        "confirmed": "Merci : votre demande est maintenant fermée.",
        "reported": "Merci : nous vous avons écrit comment nous envoyer un nouvel export.",
        "already": "Votre réponse a déjà été enregistrée. Vous n'avez rien d'autre à faire.",
        "not_waiting": "Cette demande n'attend plus de réponse au sujet d'une clé.",
        "bad_link": "Ce lien n'est pas valide ou a expiré.",
        "valid": "Valable jusqu'au", "expired": "Cette clé a expiré : utilisez le lien de "
                                                "signalement de notre courriel pour en obtenir "
                                                "une nouvelle.",
        "warning": "Ne redémarrez pas l'appareil et n'exportez pas de nouveau sa demande avant "
                   "d'avoir utilisé cette clé : l'un comme l'autre la rendrait invalide.",
        "codes": "Vos codes de réinitialisation", "key": "Votre clé de réinitialisation",
    },
}


def _t(language: str) -> dict[str, str]:
    return TEXT.get(language, TEXT["en"])


def _page(language: str, body: str, status: int = 200) -> HTMLResponse:
    title = html.escape(_t(language)["title"])
    return HTMLResponse(
        f'<!doctype html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body style=\"font-family:sans-serif;max-width:40em;"
        f'margin:2em auto;padding:0 1em"><h1>{title}</h1>{body}</body></html>',
        status_code=status, headers=HEADERS)


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _bad_link() -> HTMLResponse:
    return _page("en", _p(TEXT["en"]["bad_link"]) + _p(TEXT["fr"]["bad_link"]), 403)


def _ticket_id(d: WebDeps, token: str, action: str) -> str | None:
    if len(d.secret_key) < 16:  # unconfigured: never trust a link signed with an empty key
        return None
    try:
        return links.verify(d.secret_key, token, d.clock.now(), action=action).ticket_id
    except links.InvalidLink:
        return None


def _view(d: WebDeps, ticket_id: str, *, with_key: bool) -> KeyView | None:
    sealer = AesGcmSealer(d.secret_key) if with_key else None
    try:
        return view_key(d.uow(), d.clock, store_for, ticket_id, sealer=sealer)
    except TicketNotFound:
        return None


def _question(d: WebDeps, token: str, action: str, ask: str, button: str,
              answered: tuple[str, ...]) -> HTMLResponse:
    ticket_id = _ticket_id(d, token, action)
    view = _view(d, ticket_id, with_key=False) if ticket_id else None
    if view is None:
        return _bad_link()
    t = _t(view.language)
    ref = _p(f"{t['ref']}: {view.reference}")
    if not view.waiting:
        said = "already" if view.outcome in answered else "not_waiting"
        return _page(view.language, ref + _p(t[said]))
    return _page(view.language, ref + _p(t[ask]) +
                 f'<form method="post"><button type="submit">{html.escape(t[button])}'
                 "</button></form>")


def _answered(d: WebDeps, token: str, action: str, worked: bool) -> HTMLResponse:
    ticket_id = _ticket_id(d, token, action)
    if ticket_id is None:
        return _bad_link()
    try:
        result: AnswerResult = d.handle(ReportKey(actor=CUSTOMER, ticket_id=ticket_id,
                                                  worked=worked))
    except TicketNotFound:
        return _bad_link()
    t = _t(result.language)
    message = {KeyAnswer.RECORDED: t["confirmed" if worked else "reported"],
               KeyAnswer.ALREADY_RECORDED: t["already"],
               KeyAnswer.NOT_WAITING: t["not_waiting"]}[result.answer]
    return _page(result.language, _p(f"{t['ref']}: {result.reference}") + _p(message))


@router.get("/confirm/{token}")
def confirm_page(token: str, d: Deps) -> HTMLResponse:
    return _question(d, token, "confirm_key", "confirm_q", "confirm_b", ("confirmed",))


@router.post("/confirm/{token}")
def confirm(token: str, d: Deps) -> HTMLResponse:
    return _answered(d, token, "confirm_key", worked=True)


@router.get("/report/{token}")
def report_page(token: str, d: Deps) -> HTMLResponse:
    return _question(d, token, "report_key", "report_q", "report_b", ("failed", "expired"))


@router.post("/report/{token}")
def report(token: str, d: Deps) -> HTMLResponse:
    return _answered(d, token, "report_key", worked=False)


@router.get("/get/{token}")
def get_key(token: str, d: Deps) -> Response:
    """The codes or key as a page, or the encrypted file as a download."""
    ticket_id = _ticket_id(d, token, "get_key")
    view = _view(d, ticket_id, with_key=True) if ticket_id else None
    if view is None:
        return _bad_link()
    t = _t(view.language)
    ref = _p(f"{t['ref']}: {view.reference}")
    if not view.waiting:
        return _page(view.language, ref + _p(t["not_waiting"]))
    if view.content is not None:
        name = view.filename or "reset-key.bin"
        return Response(view.content, media_type=view.media_type or "application/octet-stream",
                        headers={**HEADERS, "Content-Disposition":
                                 f"attachment; filename*=UTF-8''{quote(name, safe='')}"})
    if view.text is None:
        return _page(view.language, ref + _p(t["expired"]))
    heading = t["codes"] if view.kind == "security_codes" else t["key"]
    until = utc_text(view.valid_until) if view.valid_until else ""
    return _page(view.language, ref + f"<h2>{html.escape(heading)}</h2>"
                 f"<pre style=\"font-size:1.3em\">{html.escape(view.text)}</pre>"
                 + _p(f"{t['valid']} {until}") + f"<p><strong>{html.escape(t['warning'])}"
                 "</strong></p>")


#: the same two answers as JSON, for form front ends and scripts: /api/v1/customer/key/…
api = APIRouter(prefix="/api/v1/customer/key", tags=["customer"])


def _answer_json(d: WebDeps, token: str, action: str, worked: bool) -> JSONResponse:
    ticket_id = _ticket_id(d, token, action)
    try:
        result = d.handle(ReportKey(actor=CUSTOMER, ticket_id=ticket_id, worked=worked)) \
            if ticket_id else None
    except TicketNotFound:
        result = None
    if result is None:
        return JSONResponse({"error": "invalid_link", "reason": "this link is not valid"}, 403)
    return JSONResponse({"reference": result.reference, "answer": result.answer.value})


@api.post("/confirm/{token}")
def confirm_json(token: str, d: Deps) -> JSONResponse:
    """The key worked: the ticket closes resolved (a second call changes nothing)."""
    return _answer_json(d, token, "confirm_key", worked=True)


@api.post("/report/{token}")
def report_json(token: str, d: Deps) -> JSONResponse:
    """The key failed or expired: the ticket goes back to the queue for a re-export."""
    return _answer_json(d, token, "report_key", worked=False)
