"""The ticket life cycle, declared once as data.

The console renders its buttons from this table, the docs diagram is generated from it and the
tests walk it. Exactly six top-level states; waiting on the customer is the ``waiting_on`` field,
valid only in ``queued`` and ``awaiting-callback``, never a seventh state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class State(enum.Enum):
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    QUEUED = "queued"
    AWAITING_CALLBACK = "awaiting-callback"
    REMOTE_SESSION = "remote-session"
    CLOSED = "closed"


class WaitingOn(enum.Enum):
    """What the customer has to do before the desk can go on; the SLA clocks pause meanwhile."""

    KEY_CONFIRMATION = "key-confirmation"
    SESSION_CODE = "session-code"
    CALLBACK_MOVED = "callback-moved"


class Outcome(enum.Enum):
    """Why a ticket is closed. Rejections carry their reason: ``rejected-<reason>``."""

    RESOLVED = "resolved"
    DUPLICATE = "duplicate"
    UNREACHABLE = "unreachable"
    ABANDONED = "abandoned"
    REJECTED_REGION = "rejected-region"
    REJECTED_METHOD = "rejected-method"
    REJECTED_SERIAL = "rejected-serial"
    REJECTED_ATTESTATION = "rejected-attestation"
    REJECTED_HUMAN_CHECK = "rejected-human-check"
    REJECTED_OTHER = "rejected-other"

    @property
    def is_rejection(self) -> bool:
        return self.value.startswith("rejected-")


WAITING_ALLOWED_IN = frozenset({State.QUEUED, State.AWAITING_CALLBACK})
OPEN_STATES = frozenset(s for s in State if s is not State.CLOSED)
REOPENABLE = frozenset({Outcome.RESOLVED, Outcome.UNREACHABLE, Outcome.ABANDONED})
ACTIVE = [State.QUEUED, State.AWAITING_CALLBACK]
#: who may act on a ticket: an agent, or a supervisor (who may also take over and reassign)
STAFF = ("agent", "supervisor")
#: every kind of actor the declaration names (``system`` may be narrowed to ``system:<process>``)
ACTOR_KINDS = ("agent", "supervisor", "customer", "producer", "system")


@dataclass(frozen=True)
class Move:
    """One row of the transitions table.

    ``dest`` None is an internal move (the state stays). ``guards`` name predicates in
    :mod:`workflow.domain.guards`; ``effect`` names the change the machine applies to the ticket
    once the guards passed (outcome, waiting_on, assignee …).
    """

    trigger: str
    source: tuple[State, ...]
    dest: State | None
    guards: tuple[str, ...] = ()
    effect: str | None = None
    label: str = ""
    actors: tuple[str, ...] = field(default=STAFF)
    #: the dedicated CLI command that carries this move (it must create a key, a booking, a
    #: code …); the generic ``tickets act`` / ``POST …/{trigger}`` refuse such a move
    command: str | None = None


def _m(
    trigger: str,
    source: State | list[State],
    dest: State | None,
    *guards: str,
    effect: str | None = None,
    actors: tuple[str, ...] = STAFF,
    command: str | None = None,
) -> Move:
    src = tuple(source) if isinstance(source, list) else (source,)
    return Move(trigger, src, dest, tuple(guards), effect, actors=actors, command=command)


S = State
STAY = None  # an internal move: the state does not change, only the ticket's fields
INTAKE = "publish (or POST /events): the verification worker makes this move"
KEY_LINK = "the customer's key links (it worked / it did not)"
CALL_RESULT = "tickets callback-result"
END_SESSION = "tickets end-session"
# Order matters: for one trigger, the first row whose guards pass is taken.
TRANSITIONS: tuple[Move, ...] = (
    _m("verify", S.SUBMITTED, S.VERIFIED, "verdict_ok", actors=("system",), command=INTAKE),
    # the verification worker's rejection first; ``by_system`` keeps staff (given reject by the
    # row below, the bus checks the union) from rejecting a request that is not queued yet
    _m("reject", [S.SUBMITTED, S.VERIFIED], S.CLOSED, "has_rejection", "by_system",
       effect="close_rejected", actors=("system",), command=INTAKE),
    _m("mark_duplicate", S.SUBMITTED, S.CLOSED, "has_link", effect="close_duplicate",
       actors=("system",), command=INTAKE),
    _m("enqueue", S.VERIFIED, S.QUEUED, actors=("system",), command=INTAKE),
    _m("claim", ACTIVE, STAY, "claimable", effect="assign"),
    _m("take_over", ACTIVE, STAY, "claimed_by_other", effect="assign", actors=("supervisor",)),
    _m("reassign", ACTIVE, STAY, "names_agent", effect="reassign", actors=("supervisor",),
       command="tickets reassign"),
    _m("release", ACTIVE, STAY, "is_assignee", effect="unassign"),
    _m("reply", ACTIVE, STAY, "is_assignee", effect="replied", command="tickets reply"),
    _m("send_key", ACTIVE, STAY, "is_assignee", effect="wait_key", command="tickets send-key"),
    _m("key_failed", ACTIVE, STAY, "waiting_key", effect="stop_waiting",
       actors=("customer",), command=KEY_LINK),
    _m("request_callback", S.QUEUED, S.AWAITING_CALLBACK, effect="stop_waiting",
       actors=(*STAFF, "customer", "system"), command="tickets callback"),
    # staff: the customer asked (by phone, by email) for another time, or cannot be called then
    _m("move_callback", S.AWAITING_CALLBACK, STAY, effect="wait_callback_moved",
       actors=("customer", *STAFF), command="tickets move-callback"),
    _m("book_callback", S.AWAITING_CALLBACK, STAY, "waiting_callback_moved", effect="stop_waiting",
       actors=("customer", *STAFF), command="tickets book-callback"),
    _m("callback_result", S.AWAITING_CALLBACK, S.QUEUED, "result_answered", effect="stop_waiting",
       command=CALL_RESULT),
    _m("callback_result", S.AWAITING_CALLBACK, S.CLOSED, "result_give_up",
       effect="close_unreachable", command=CALL_RESULT),
    _m("callback_result", S.AWAITING_CALLBACK, S.QUEUED, "result_requeue", effect="stop_waiting",
       command=CALL_RESULT),
    _m("callback_result", S.AWAITING_CALLBACK, STAY, "result_retry", effect="stop_waiting",
       command=CALL_RESULT),
    _m("offer_remote_session", ACTIVE, STAY, "is_assignee", effect="wait_code",
       command="tickets remote-code"),
    _m("start_remote_session", ACTIVE, S.REMOTE_SESSION, "waiting_code", effect="stop_waiting",
       actors=("customer",), command="the customer's remote-session page (code, then Agree)"),
    _m("end_remote_session", S.REMOTE_SESSION, S.CLOSED, "session_resolved",
       effect="close_resolved", actors=(*STAFF, "customer", "system"), command=END_SESSION),
    _m("end_remote_session", S.REMOTE_SESSION, S.QUEUED, effect="stop_waiting",
       actors=(*STAFF, "customer", "system"), command=END_SESSION),
    # a remote session ends through end_remote_session, which also closes the session record
    _m("resolve", ACTIVE, S.CLOSED, effect="close_resolved", actors=(*STAFF, "customer")),
    _m("abandon", ACTIVE, S.CLOSED, effect="close_abandoned", actors=(*STAFF, "system")),
    _m("reject", ACTIVE, S.CLOSED, "has_rejection", "is_assignee", "has_reason",
       effect="close_rejected", command="tickets reject"),
    _m("reopen", S.CLOSED, S.QUEUED, "reopenable", effect="reopened", actors=STAFF),
)

TRIGGERS: tuple[str, ...] = tuple(dict.fromkeys(m.trigger for m in TRANSITIONS))


def moves_of(trigger: str) -> tuple[Move, ...]:
    return tuple(m for m in TRANSITIONS if m.trigger == trigger)


def actors_of(trigger: str) -> tuple[str, ...]:
    """Who may fire ``trigger``: the union over its rows, in declaration order."""
    return tuple(dict.fromkeys(a for m in moves_of(trigger) for a in m.actors))


def names_kind(move: Move, kind: str) -> bool:
    """``move`` names ``kind`` (or one ``kind:<name>``) among its actors."""
    return any(a.partition(":")[0] == kind for a in move.actors)


def command_of(trigger: str, kind: str | None = None) -> str | None:
    """The dedicated command that carries ``trigger`` (for an actor of ``kind``: the first of
    the rows naming that kind which has one; the verification worker's ``reject`` is not
    staff's), if it has one."""
    rows = [m for m in moves_of(trigger) if kind is None or names_kind(m, kind)]
    return next((m.command for m in rows if m.command), None)


def triggers_from(state: State) -> list[str]:
    """Every trigger that has at least one row leaving ``state`` (guards not evaluated)."""
    return [t for t in TRIGGERS if any(state in m.source for m in TRANSITIONS if m.trigger == t)]
