"""The escalation consumer's core: an SLA breach books a phone callback for the ticket.

One ``com.resetdesk.sla.breached.v1`` event becomes at most one booking. Delivery is
at-least-once, so the service checks, in the transaction that books, that the ticket is still
queued for this SLA cycle and holds no booking, and saves under the ticket's version: a
redelivered or concurrently delivered twin changes nothing. Embedded mode subscribes this object
(``name``, ``types``, ``handle``); the AMQP consumer calls the same ``handle``. The booking is
the ``EscalateBreach`` command, handed to the bus as ``system:escalation``.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from pydantic import ValidationError

from schemas.events_v1 import SLA_BREACHED_V1, SlaRaised
from workflow.domain.actors import Actor
from workflow.domain.errors import ConcurrencyConflict, WorkflowError
from workflow.service.bus import MessageBus
from workflow.service.commands import EscalateBreach

log = logging.getLogger(__name__)

#: a twin that lost on the version check re-reads the ticket, which then says "skipped"
_TRIES: Final = 3
ACTOR: Final = Actor.system("escalation")


class EscalationRefused(WorkflowError):
    """The event cannot be an SLA breach (wrong type, malformed data): dead-letter it."""


class EscalationContended(WorkflowError):
    """The ticket kept changing under the handler: try the event again later."""

    transient = True


class EscalationHandler:
    name = "escalation"
    types = frozenset({SLA_BREACHED_V1})

    def __init__(self, bus: MessageBus) -> None:
        """``bus``: the process's own (bootstrap's): its callback policy and customer links."""
        self.bus = bus

    def handle(self, envelope: dict[str, Any]) -> str:
        """Escalate one structured-mode CloudEvent; returns ``booked`` or ``skipped: <why>``."""
        if envelope.get("type") != SLA_BREACHED_V1:
            raise EscalationRefused(f"not an SLA breach: {envelope.get('type')!r}")
        try:
            data = SlaRaised.model_validate(envelope.get("data"))
        except ValidationError:
            raise EscalationRefused(f"malformed SLA breach {envelope.get('id')!r}") from None
        cmd = EscalateBreach(actor=ACTOR, ticket_id=data.ticket_id, clock=data.clock,
                             cycle=data.cycle)
        for _ in range(_TRIES):
            try:
                outcome = self.bus.handle(cmd)
            except ConcurrencyConflict:
                continue
            log.info("sla breach %s of ticket %s: %s", data.clock, data.ticket_id, outcome)
            return outcome
        raise EscalationContended(f"ticket {data.ticket_id} changed {_TRIES} times meanwhile")
