"""What the ticket page shows, gathered from the read models: the request, the verification
findings, the timeline with Pacific and relative times, who else is here, and the moves this
agent may make now — the last asked of the transitions declaration, never listed here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from console.deps import WebDeps
from workflow.adapters.queries import accounts, canned, findings, presence, ticket_page, timeline
from workflow.adapters.queries import ticket_details as details_of
from workflow.domain.actors import Actor
from workflow.domain.canned_replies import LANGUAGES
from workflow.domain.machine import offered_moves
from workflow.domain.states import TRIGGERS, Outcome
from workflow.domain.ticket import Ticket

#: moves this page makes with a button and a reason; the others are their own forms (reassign,
#: reject, reply here; keys, callbacks and sessions in the resolution panel)
PLAIN = ("claim", "release", "take_over", "resolve", "abandon", "reopen")
#: moves that end the ticket: asked for with a confirmation and a reason
DESTRUCTIVE = frozenset({"resolve", "abandon", "reject"})
REJECTIONS = tuple(o.value for o in Outcome if o.is_rejection)
LABELS = {"claim": "Claim", "release": "Release", "take_over": "Take over",
          "reassign": "Reassign", "resolve": "Resolve", "abandon": "Abandon", "reopen": "Reopen",
          "reject": "Reject"}
LANGUAGE_NAMES = {"en": "English", "fr": "French"}
@dataclass(frozen=True)
class When:
    iso: str
    #: in the desk's zone (Pacific by default), e.g. "Tue 24 Nov 09:05 PST"
    local: str
    #: "3 min ago", "in 2 h"
    relative: str


def when(at: datetime, now: datetime, zone: ZoneInfo) -> When:
    return When(at.isoformat(), at.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z"),
                relative(at, now))


def relative(at: datetime, now: datetime) -> str:
    seconds = int((now - at).total_seconds())
    ago, seconds = seconds >= 0, abs(seconds)
    if seconds < 60:
        return "just now" if ago else "in under a minute"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            amount = f"{seconds // size} {unit}"
            return f"{amount} ago" if ago else f"in {amount}"
    raise AssertionError("unreachable")


#: the request as submitted: (label, path in ``ticket.data``)
REQUEST_FIELDS = (
    ("Customer", ("requester", "name")), ("Company", ("requester", "company")),
    ("Email", ("requester", "email")), ("Phone", ("requester", "phone")),
    ("Customer type", ("requester", "customer_type")),
    ("Purchased from", ("requester", "purchased_from")),
    ("Country", ("requester", "country")), ("Language", ("requester", "language")),
    ("Device model", ("device", "model_number")), ("Full serial", ("device", "serial_number")),
    ("Firmware", ("device", "firmware_version")), ("Device kind", ("device", "kind")),
    ("Device date", ("device", "current_date")), ("Device start time", ("device", "start_time")),
    ("Reset method", ("reset_method",)), ("Export", ("export", "filename")),
    ("Authorised and responsible", ("attestation", "authorised_and_responsible")),
    ("On site or on its network", ("attestation", "on_site_or_network")),
    ("Terms accepted", ("attestation", "terms_version")), ("Customer's note", ("note",)),
)


def request_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Every field the request carried, unmasked (agents need them all), as text the template
    escapes."""
    rows = []
    for label, path in REQUEST_FIELDS:
        value: Any = data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None and value != "":
            rows.append((label, ("yes" if value else "no") if isinstance(value, bool)
                         else str(value)))
    return rows


@dataclass(frozen=True)
class Shown:
    """One timeline entry as shown."""

    entry: timeline.Entry
    when: When


def page_context(d: WebDeps, actor: Actor, csrf: str | None, key: str) -> dict[str, Any]:
    """Everything ``agent/ticket.html`` needs (``TicketNotFound`` for an unknown ticket)."""
    t = ticket_page.ticket_by_key(d.db, key)
    now, zone = d.clock.now(), d.uow().sla.calendar.zone
    allowed = set(offered_moves(t, actor, now))
    if t.assignee == actor.name:
        allowed.discard("claim")  # claiming one's own ticket again changes nothing
    library = canned.canned_library()
    staff = [a for a in accounts.list_agents(d.db) if a.active and a.login != t.assignee]
    return {
        "ticket": details_of(d.db, t.id), "t": t, "allowed": allowed, "actor": actor,
        "csrf_token": csrf, "moves": [m for m in TRIGGERS if m in allowed and m in PLAIN],
        "destructive": DESTRUCTIVE, "labels": LABELS, "rejections": REJECTIONS, "agents": staff,
        "request_rows": request_rows(t.data),
        "verification": findings.verification_of(d.db, t.id, t.data, _rules(d)),
        "timeline": [Shown(e, when(e.at, now, zone))
                     for e in timeline.timeline(d.db, t.id, zone)],
        "others": others_on(d, t.id, actor.name), "changed": False,
        "created": when(t.created_at, now, zone),
        "canned": library.replies.values(),
        "macros": [m for m in library.macros.values()
                   if "reply" in allowed and m.move in allowed and m.move in PLAIN],
        "language": language_of(t),
    }


def language_of(t: Ticket) -> str:
    return t.language if t.language in LANGUAGES else "en"


def others_on(d: WebDeps, ticket_id: str, me: str) -> list[presence.Present]:
    """Who else has the ticket open now (not the agent asking)."""
    here = presence.presence_for(d.db, [ticket_id], d.clock.now()).get(ticket_id, [])
    return [p for p in here if p.login != me]


def _rules(d: WebDeps) -> Any:
    """The rule book the bus verifies with, when this process has one (else the packaged)."""
    rules = d.message_bus().ctx.rules
    return rules() if rules is not None else None
