"""The events consumer: events from the events exchange (``com.resetdesk.notification.email.v1``,
``com.resetdesk.sla.breached.v1``, …), handed to the same subscriber the embedded delivery
workers call (``EmailNotifier``, ``EscalationHandler``), routed by type (:mod:`.routing`).

A ``WorkflowError`` that is ``transient`` (``NotificationFailed``, storage trouble) goes to the
retry queue; any other is dead-lettered with its reason; an unexpected exception is retried by
the runtime. Delivery is at-least-once: the email's Message-ID is derived from the event id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from consumers.amqp.delivery import Delivery, Verdict
from schemas.errors import ContractError
from schemas.jsonstrict import loads_object
from workflow.domain.errors import WorkflowError
from workflow.logcontext import bind

_CE_PREFIX = "ce-"


class Notifier(Protocol):
    def handle(self, envelope: dict[str, Any]) -> str: ...


def event_envelope(delivery: Delivery) -> dict[str, Any]:
    """The event as a structured-mode dict: the relay publishes structured mode; binary mode
    (``ce-*`` headers, data in the body) is read too. Raises ContractError."""
    content_type = (delivery.content_type or "").lower()
    binary = any(str(k).lower().startswith(_CE_PREFIX) for k in delivery.headers)
    if content_type.startswith("application/cloudevents") or not (binary or content_type):
        return loads_object(delivery.body)
    envelope: dict[str, Any] = {}
    for name, value in delivery.headers.items():
        if name.lower().startswith(_CE_PREFIX):
            text = value.decode("utf-8") if isinstance(value, bytes | bytearray) else value
            envelope[name[len(_CE_PREFIX):].lower()] = text
    if delivery.content_type:
        envelope["datacontenttype"] = delivery.content_type
    envelope["data"] = loads_object(delivery.body, prefix="data")
    return envelope


@dataclass
class NotificationConsumer:
    notifier: Notifier

    def __call__(self, delivery: Delivery) -> Verdict:
        try:
            envelope = event_envelope(delivery)
        except ContractError as err:
            return Verdict.dead(err.reason, err.code)
        bind(ticket_id=str(envelope.get("subject") or "") or None)  # outgoing events: the ticket id
        try:
            result = self.notifier.handle(envelope)
        except ContractError as err:  # e.g. a type this queue's routes do not cover
            return Verdict.dead(err.reason, err.code)
        except WorkflowError as err:
            reason = f"{type(err).__name__}: {err}"
            if err.transient:
                return Verdict.retry(reason)
            return Verdict.dead(reason, "notification_failed")
        return Verdict.ack(result)
