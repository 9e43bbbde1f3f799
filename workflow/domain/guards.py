"""Guards and effects named by the transitions table.

A guard answers yes or no and, when it says no, why (the console shows that sentence). An effect
changes the ticket's fields once every guard passed; effects never raise on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from workflow.domain.states import REOPENABLE, STAFF, Outcome, WaitingOn
from workflow.domain.ticket import Ticket


@dataclass(frozen=True)
class TriggerContext:
    """Everything a trigger may need besides the ticket itself."""

    actor: str
    at: datetime
    reason: str | None = None
    outcome: Outcome | None = None
    link: str | None = None
    #: callback_result: answered | retry | requeue | give_up
    result: str | None = None
    #: end_remote_session: True closes resolved, False goes back to queued
    resolved: bool = False
    verdict_ok: bool = False
    #: reassign: the login the ticket goes to (a supervisor's move)
    assign_to: str | None = None

    @property
    def agent(self) -> str | None:
        """The login of an agent or supervisor acting (both hold tickets), else None."""
        kind, _, name = self.actor.partition(":")
        return name if kind in STAFF and name else None


Guard = Callable[[Ticket, TriggerContext], str | None]
"""Returns None when the move may happen, else the reason it may not."""


def _need(cond: bool, why: str) -> str | None:
    return None if cond else why


GUARDS: dict[str, Guard] = {
    "verdict_ok": lambda t, c: _need(c.verdict_ok, "the request did not pass verification"),
    "has_rejection": lambda t, c: _need(
        c.outcome is not None and c.outcome.is_rejection, "a rejection needs a rejected-* outcome"
    ),
    "by_system": lambda t, c: _need(
        c.actor.partition(":")[0] == "system",
        "only the verification worker rejects a request that is not queued yet",
    ),
    "has_reason": lambda t, c: _need(
        bool(c.reason and c.reason.strip()), "a rejection needs a reason"
    ),
    "has_link": lambda t, c: _need(c.link is not None, "a duplicate must name the open ticket"),
    "claimable": lambda t, c: _need(
        c.agent is not None and t.assignee in (None, c.agent),
        f"already claimed by {t.assignee} (a supervisor may take it over)" if t.assignee
        else "only an agent can claim",
    ),
    "claimed_by_other": lambda t, c: _need(
        c.agent is not None and t.assignee not in (None, c.agent),
        "nobody else holds it: claim it" if c.agent else "only a supervisor can take over",
    ),
    "names_agent": lambda t, c: _need(
        c.assign_to is not None and c.assign_to != t.assignee,
        f"it is already {t.assignee}'s" if c.assign_to else "name the agent to reassign it to",
    ),
    "is_assignee": lambda t, c: _need(
        c.agent is not None and t.assignee == c.agent,
        f"the ticket is claimed by {t.assignee}" if t.assignee else "claim the ticket first",
    ),
    "waiting_key": lambda t, c: _need(
        t.waiting_on is WaitingOn.KEY_CONFIRMATION, "no reset key is waiting for the customer"
    ),
    "waiting_callback_moved": lambda t, c: _need(
        t.waiting_on is WaitingOn.CALLBACK_MOVED, "no callback is waiting for a new slot"
    ),
    "waiting_code": lambda t, c: _need(
        t.waiting_on is WaitingOn.SESSION_CODE, "no remote-session code was offered"
    ),
    "result_answered": lambda t, c: _need(c.result == "answered", "result is not answered"),
    "result_give_up": lambda t, c: _need(c.result == "give_up", "result is not give_up"),
    "result_requeue": lambda t, c: _need(c.result == "requeue", "result is not requeue"),
    "result_retry": lambda t, c: _need(
        c.result == "retry", "callback result must be answered, retry, requeue or give_up"
    ),
    "session_resolved": lambda t, c: _need(c.resolved, "the session did not resolve it"),
    "reopenable": lambda t, c: _need(
        t.outcome in REOPENABLE and t.anonymised_at is None,
        "its personal data was purged: the customer must send a new request"
        if t.anonymised_at else
        f"a ticket closed {t.outcome.value if t.outcome else '-'} cannot be reopened",
    ),
}


#: guards on what the actor supplies with the move (a call's result, the session's outcome, the
#: agent to hand over to …), not on the ticket: a form asks for those, so they do not decide
#: whether the move is offered
INPUT_GUARDS = frozenset({"verdict_ok", "has_rejection", "has_reason", "has_link", "names_agent",
                          "result_answered", "result_give_up", "result_requeue", "result_retry",
                          "session_resolved"})


def _close(t: Ticket, c: TriggerContext, outcome: Outcome) -> None:
    t.outcome = outcome
    t.waiting_on = None
    t.closed_at = c.at


def _replied(t: Ticket, c: TriggerContext) -> None:
    if t.first_reply_at is None:
        t.first_reply_at = c.at


def _set(attr: str, value: object) -> Callable[[Ticket, TriggerContext], None]:
    def effect(t: Ticket, c: TriggerContext) -> None:
        setattr(t, attr, value)

    return effect


def _reopen(t: Ticket, c: TriggerContext) -> None:
    """A new cycle: no outcome, nobody assigned, no first reply yet (the audit keeps the old)."""
    t.outcome = None
    t.closed_at = None
    t.assignee = None
    t.first_reply_at = None


def _close_rejected(t: Ticket, c: TriggerContext) -> None:
    _close(t, c, c.outcome or Outcome.REJECTED_OTHER)


def _close_duplicate(t: Ticket, c: TriggerContext) -> None:
    t.linked_ticket_id = c.link
    _close(t, c, Outcome.DUPLICATE)


def _assign(t: Ticket, c: TriggerContext) -> None:
    t.assignee = c.agent


EFFECTS: dict[str, Callable[[Ticket, TriggerContext], None]] = {
    "close_rejected": _close_rejected,
    "close_duplicate": _close_duplicate,
    "close_resolved": lambda t, c: _close(t, c, Outcome.RESOLVED),
    "close_unreachable": lambda t, c: _close(t, c, Outcome.UNREACHABLE),
    "close_abandoned": lambda t, c: _close(t, c, Outcome.ABANDONED),
    "assign": _assign,
    "reassign": lambda t, c: setattr(t, "assignee", c.assign_to),
    "unassign": _set("assignee", None),
    "replied": _replied,
    "wait_key": _set("waiting_on", WaitingOn.KEY_CONFIRMATION),
    "wait_code": _set("waiting_on", WaitingOn.SESSION_CODE),
    "wait_callback_moved": _set("waiting_on", WaitingOn.CALLBACK_MOVED),
    "stop_waiting": _set("waiting_on", None),
    "reopened": _reopen,
}
