"""What the resolution panels of a ticket page show, read in one place: the moves the signed-in
agent may make now, the latest reset key, the callback (booking, attempts, free slots by day)
and the remote session. Read only; the panels' routes change things through the bus.

The ticket page includes ``agent/resolution_panel.html`` with the context it has (``ticket``,
``allowed``, ``actor``, ``csrf_token``); the panel then loads its data from
``GET /tickets/{reference}/resolution``, which renders the same template with ``panels`` set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from console.deps import WebDeps
from workflow.adapters import queries
from workflow.adapters.queries.callbacks import CallbackView, callback_view, free_days
from workflow.adapters.queries.keys import KeyView, key_view
from workflow.adapters.queries.sessions import SessionStatus, session_status
from workflow.domain.actors import Actor
from workflow.domain.callback_slots import Slot
from workflow.domain.machine import offered_moves
from workflow.domain.wording import long_date
from workflow.service.remote_sessions import STEP_KINDS, IssuedCode

#: the moves the panels carry (the ticket page's own buttons carry the others)
RESOLUTION_TRIGGERS = ("send_key", "request_callback", "book_callback", "move_callback",
                       "callback_result", "offer_remote_session", "end_remote_session")
CALLBACK_TRIGGERS = frozenset({"request_callback", "book_callback", "move_callback",
                               "callback_result"})
PICKING = frozenset({"request_callback", "book_callback", "move_callback"})
SESSION_TRIGGERS = frozenset({"offer_remote_session", "end_remote_session"})
#: days of free slots the picker shows at once
PICKER_DAYS = 3
KIND_LABELS = {"security_codes": "Security codes", "key": "Key",
               "encrypted_file": "Encrypted file (upload)"}
RESULT_LABELS = {"answered": "Answered", "no_answer": "No answer",
                 "wrong_number": "Wrong number", "asked_to_move": "Asked to be called another time"}


@dataclass(frozen=True)
class SlotChoice:
    start: str
    label: str


@dataclass(frozen=True)
class DayChoice:
    day: str
    label: str
    slots: list[SlotChoice]


@dataclass(frozen=True)
class Panels:
    """The data behind the panels (each part None when its panel is not shown)."""

    key: KeyView | None = None
    #: "1 MiB": the largest encrypted file the desk accepts
    max_file: str = ""
    callback: CallbackView | None = None
    #: the booked slot spelt out, in the calendar's zone
    booked: str | None = None
    days: list[DayChoice] = field(default_factory=list)
    #: the first day shown when the agent paged on (None: the earliest free day)
    picker_from: str | None = None
    next_day: str | None = None
    zone: str = ""
    session: SessionStatus | None = None
    #: the signed-in agent holds the ticket during a running session (only they propose steps)
    can_propose: bool = False
    #: where the customer types the reference and code
    session_address: str = ""
    kinds: dict[str, str] = field(default_factory=lambda: dict(KIND_LABELS))
    results: dict[str, str] = field(default_factory=lambda: dict(RESULT_LABELS))
    step_kinds: tuple[str, ...] = STEP_KINDS
    #: the desk's zone (the business calendar's): every time on the panels is told in it
    desk_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/Los_Angeles"))

    def time(self, at: datetime, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
        """``at`` as the agent reads it: in the desk's zone, as the ticket page's timeline."""
        return at.astimezone(self.desk_zone).strftime(fmt)


def allowed_for(d: WebDeps, ticket_id: str, actor: Actor) -> list[str]:
    """The moves ``actor`` may make on the ticket now: the declaration's actors and the guards
    on the ticket (a guard on the form's input, the call's result say, is the form's)."""
    with d.uow() as uow:
        ticket = uow.tickets.get(ticket_id)
    return offered_moves(ticket, actor, ticket.updated_at)


def slot_label(slot: Slot, zone: ZoneInfo) -> str:
    a, b = slot.start.astimezone(zone), slot.end.astimezone(zone)
    return f"{a:%H:%M}–{b:%H:%M}"


def size_text(size: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def _callback(d: WebDeps, tid: str, allowed: set[str], day: date | None,
              now: datetime) -> dict[str, Any]:
    policy = d.message_bus().ctx.callback_policy
    view = callback_view(d.uow(), now, policy, tid)
    found: dict[str, Any] = {"callback": view, "zone": view.zone.key}
    if view.booking is not None:
        slot = view.booking.slot
        found["booked"] = (f"{long_date(slot.start.astimezone(view.zone).date(), 'en')}, "
                           f"{slot_label(slot, view.zone)}")
    if allowed & PICKING:
        picker = free_days(d.uow(), now, policy, tid, day, PICKER_DAYS)
        found["days"] = [DayChoice(f.day.isoformat(), long_date(f.day, "en"),
                                   [SlotChoice(s.start.isoformat(), slot_label(s, picker.zone))
                                    for s in f.slots]) for f in picker.days]
        found["next_day"] = picker.next_day.isoformat() if picker.next_day else None
        found["picker_from"] = day.isoformat() if day else None
    return found


def read_panels(d: WebDeps, ticket: dict[str, Any], allowed: set[str], actor: Actor,
                public_base: str, day: date | None = None) -> Panels:
    """Everything the shown panels need, for this ticket and these allowed moves."""
    tid, now = str(ticket["id"]), d.clock.now()
    found: dict[str, Any] = {}
    if "send_key" in allowed:
        found["key"] = key_view(d.uow(), now, tid)
        found["max_file"] = size_text(d.message_bus().ctx.key_policy.max_file_bytes)
    if allowed & CALLBACK_TRIGGERS:
        found.update(_callback(d, tid, allowed, day, now))
    if allowed & SESSION_TRIGGERS or ticket["waiting_on"] == "session-code":
        session = session_status(d.uow(), d.db, tid, now)
        found["session"] = session
        found["can_propose"] = session.phase == "running" and ticket["assignee"] == actor.name
    base = (d.public_url or public_base).rstrip("/")
    return Panels(**found, session_address=f"{base}/session",
                  desk_zone=d.uow().sla.calendar.zone)


def forms_shown(allowed: set[str], panels: Panels) -> set[str]:
    """The forms (as named in ``error_panel``) the panels show; a refusal for any other is
    shown above the panels."""
    session = panels.session
    shown = {"key"} if "send_key" in allowed else set()
    if allowed & PICKING:
        shown.add("callback")
    if "move_callback" in allowed and panels.booked:
        shown.add("release")
    if "callback_result" in allowed:
        shown.add("call")
    if "offer_remote_session" in allowed or "end_remote_session" in allowed or (
            session and session.phase != "none"):
        shown.add("session")
    if panels.can_propose:
        shown.add("steps")
    if "end_remote_session" in allowed:
        shown.add("end")
    return shown


def panel_context(d: WebDeps, reference: str, actor: Actor, csrf: str | None,
                  public_base: str, *, day: date | None = None, error: str | None = None,
                  error_panel: str | None = None, values: dict[str, str] | None = None,
                  notice: str | None = None, issued: IssuedCode | None = None
                  ) -> dict[str, Any]:
    """The template context of ``agent/resolution_panel.html`` with its data (``panels``)."""
    ticket = queries.ticket_details(d.db, reference)
    allowed = set(allowed_for(d, str(ticket["id"]), actor))
    panels = read_panels(d, ticket, allowed, actor, public_base, day)
    if error_panel not in forms_shown(allowed, panels):
        error_panel = None
    return {"ticket": ticket, "allowed": allowed, "actor": actor, "csrf_token": csrf,
            "panels": panels, "error": error, "error_panel": error_panel, "values": values or {},
            "notice": notice, "issued": issued}
