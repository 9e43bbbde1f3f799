"""The customer's callback page, reached through a signed link from an email.

``GET`` only shows (the booking and the free slots of one day, HTML or JSON): mail scanners
follow links, so nothing happens until a ``POST``. A ``request_callback`` link books a queued
ticket's callback (the chosen slot, a window, or the next free slot); a ``move_callback`` link
gives the booked slot back (the ticket then waits on the customer, clocks paused) and, with a
slot, books the new one. A tampered, expired or unknown link is refused (403) the same way in
every case.

The page groups the free slots of the next few days under one heading per day (one form, one
radio per slot). Giving a slot back is never one click from a browser: a form that names no
slot on a ``move_callback`` link shows what would happen and asks first (``release=yes``
confirms); a script posting JSON or nothing keeps the one-step release.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from console import i18n, rendering
from console.auth import deps
from console.deps import WebDeps
from console.errors import link_refused, refuse
from console.inputs import MAX_FORM_BYTES, form_fields, parse_instant, sane_day
from console.routes.agent_callback import parse_window, read_callback
from workflow.adapters.queries.callbacks import CallbackView
from workflow.domain.actors import CUSTOMER
from workflow.domain.callback_slots import Slot, describe_slot
from workflow.domain.errors import TicketNotFound
from workflow.domain.states import State
from workflow.domain.wording import long_date
from workflow.service import links
from workflow.service.callback_ports import NoFreeSlot
from workflow.service.callbacks import customer_zone
from workflow.service.commands import MoveCallback, RequestCallback

router = APIRouter(prefix="/customer/callback", tags=["customers"], include_in_schema=False)
Deps = Annotated[WebDeps, Depends(deps)]
#: how many days with a free slot one page shows (each under its own heading)
DAYS_SHOWN = 3
ACTIONS = {"request_callback": State.QUEUED, "move_callback": State.AWAITING_CALLBACK}
HEADERS = rendering.HEADERS


def _claim(request: Request, d: WebDeps, token: str) -> links.LinkClaim | Response:
    """The link's claim, or the refusal (403, the same whatever was wrong with it)."""
    try:
        claim = links.verify(d.secret_key, token, d.clock.now())
    except links.InvalidLink:
        return _refused(request)
    return claim if claim.action in ACTIONS else _refused(request)


def _refused(request: Request) -> Response:
    """The one answer to an expired, tampered, misdirected or unknown link: a guesser cannot
    tell a genuine link from a forged one."""
    if _wants_json(request):
        return link_refused(HEADERS)
    return rendering.link_refused(request)


def _wants_json(request: Request) -> bool:
    return request.query_params.get("format") == "json" \
        or "application/json" in request.headers.get("accept", "") \
        or request.headers.get("content-type", "").startswith("application/json")


def _page_json(shown: CallbackView, action: str,
               later: list[CallbackView] | None = None) -> dict[str, Any]:
    """The page as data; ``days`` holds ``shown``'s day and the ``later`` ones, ``more_day``
    the day after the last of them (``next_day`` stays the one after ``shown``'s)."""
    t = shown.ticket

    def slot_json(slot: Slot) -> dict[str, str]:
        return {"start": slot.start.isoformat(), "end": slot.end.isoformat(),
                "text": describe_slot(slot, t.language, shown.zone, customer_zone(t)),
                "time": _hours(slot, t.language, shown.zone, customer_zone(t))}

    views = [v for v in [shown, *(later or [])] if v.day and v.slots]
    last = (later or [shown])[-1]
    return {"reference": t.reference, "action": action, "state": t.state.value,
            "waiting_on": t.waiting_on.value if t.waiting_on else None,
            "can_book": t.state is ACTIONS[action],
            "booking": slot_json(shown.booking.slot) if shown.booking else None,
            "day": shown.day.isoformat() if shown.day else None,
            "next_day": shown.next_day.isoformat() if shown.next_day else None,
            "slots": [slot_json(s) for s in shown.slots],
            "days": [{"day": v.day.isoformat(), "label": long_date(v.day, t.language),
                      "slots": [slot_json(s) for s in v.slots]} for v in views if v.day],
            "more_day": last.next_day.isoformat() if last.next_day else None,
            "zone": _zone_name(shown.zone, t.language)}


def _hours(slot: Slot, language: str, zone: ZoneInfo, own: str | None = None) -> str:
    """Only the hours (``15:00–15:30``, ``15 h 00 – 15 h 30``): in the picker the day is the
    heading above and the zone is said once for the page; with the customer's own zone (the
    request's ``time_zone``) their hours follow, as every time a customer reads does."""
    text = _span(slot, language, zone)
    if own is None or own == zone.key:
        return text
    mine = _span(slot, language, ZoneInfo(own))
    return f"{text} ({mine} chez vous)" if language == "fr" else f"{text} ({mine} your time)"


def _span(slot: Slot, language: str, zone: ZoneInfo) -> str:
    a, b = slot.start.astimezone(zone), slot.end.astimezone(zone)
    if language == "fr":  # no-break spaces: a narrow screen breaks only after the dash
        return f"{a:%H}\u00a0h\u00a0{a:%M} – {b:%H}\u00a0h\u00a0{b:%M}"
    return f"{a:%H:%M}–{b:%H:%M}"


def _zone_name(zone: ZoneInfo, language: str) -> str:
    pacific = zone.key == "America/Los_Angeles"
    if language == "fr":
        return "heure du Pacifique" if pacific else f"heure {zone.key}"
    return "Pacific time" if pacific else zone.key


def _read_days(d: WebDeps, ticket_id: str, day: date | None) -> tuple[CallbackView,
                                                                      list[CallbackView]]:
    """The view of ``day`` (default: the first with a free slot) and of the next
    ``DAYS_SHOWN - 1`` days that have one."""
    first = read_callback(d, ticket_id, day)
    later: list[CallbackView] = []
    following = first.next_day
    while following is not None and len(later) < DAYS_SHOWN - 1:
        later.append(read_callback(d, ticket_id, following))
        following = later[-1].next_day
    return first, later


def _respond(request: Request, page: dict[str, Any], language: str, status: int = 200,
             message: str | None = None, notice: str | None = None,
             template: str = "callback.html") -> Response:
    """JSON with ``message`` (the service's words), or the page with ``notice`` (a catalogue
    message: ``done``, ``released`` or ``no_free_slot``)."""
    if _wants_json(request):
        return JSONResponse({**page, "message": message} if message else page, status,
                            headers=HEADERS)
    return rendering.render(request, template, language, status=status, page=page,
                            message=notice)


async def _render(request: Request, d: WebDeps, ticket_id: str, action: str,
                  day: date | None = None, status: int = 200, message: str | None = None,
                  done: str | None = None, ask_release: bool = False) -> Response:
    """The page (or its JSON); ``done`` names what was just done (``done`` or ``released``);
    ``ask_release`` shows the release confirmation instead, when there is a slot to give back."""
    try:
        shown, later = await run_in_threadpool(_read_days, d, ticket_id, day)
    except TicketNotFound:  # a genuine link to a ticket that is gone: no different from a fake
        return _refused(request)
    language = shown.ticket.language
    if done:
        message = i18n.t(language, "callback.done")
    notice = done or ("no_free_slot" if message else None)
    page = _page_json(shown, action, later)
    releasable = page["can_book"] and page["booking"] is not None and action == "move_callback"
    template = "callback_release.html" if ask_release and releasable else "callback.html"
    return _respond(request, page, language, status, message, notice, template)


@router.get("/{token}")
async def show(token: str, request: Request, d: Deps, day: date | None = None,
               release: str | None = None) -> Response:
    """The page; ``?release=ask`` the confirmation step before giving the slot back."""
    claim = _claim(request, d, token)
    if isinstance(claim, Response):
        return claim
    return await _render(request, d, claim.ticket_id, claim.action,
                         sane_day(day) if day else None, ask_release=release == "ask")


def _exists(d: WebDeps, ticket_id: str) -> bool:
    try:
        with d.uow() as uow:
            uow.tickets.get(ticket_id)
    except TicketNotFound:
        return False
    return True


async def _form(request: Request) -> dict[str, str]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise refuse(413, f"send at most {MAX_FORM_BYTES} bytes")
    return form_fields(await request.body(), request.headers.get("content-type", ""))


@router.post("/{token}")
async def act(token: str, request: Request, d: Deps) -> Response:
    claim = _claim(request, d, token)
    if isinstance(claim, Response):
        return claim
    if not await run_in_threadpool(_exists, d, claim.ticket_id):
        return _refused(request)  # before the body is read: no other answer for a gone ticket
    form = await _form(request)
    slot = parse_instant(form["slot"]) if form.get("slot") else None
    window = parse_window(form.get("preferred"))
    releasing = claim.action == "move_callback" and slot is None and window is None
    if releasing and _from_a_form(request) and form.get("release") != "yes":
        return await _render(request, d, claim.ticket_id, claim.action, ask_release=True)
    try:
        if claim.action == "request_callback":
            await run_in_threadpool(d.handle, RequestCallback(
                actor=CUSTOMER, ticket_id=claim.ticket_id, window=window, slot_start=slot))
        else:
            await run_in_threadpool(d.handle, MoveCallback(
                actor=CUSTOMER, ticket_id=claim.ticket_id, slot_start=slot, window=window))
    except NoFreeSlot as err:
        return await _render(request, d, claim.ticket_id, claim.action, status=409,
                             message=str(err))
    except TicketNotFound:
        return _refused(request)
    return await _render(request, d, claim.ticket_id, claim.action,
                         done="released" if releasing else "done")


def _from_a_form(request: Request) -> bool:
    """A browser's form (which must confirm a release), not a script's JSON or empty POST."""
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
