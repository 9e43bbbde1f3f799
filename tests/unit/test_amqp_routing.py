"""A queue's consumer is chosen by the event types the queue is bound to, never by matching a
subscriber's name to the queue's (no broker needed: the choice is made before connecting)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import pytest

from consumers.amqp.delivery import Delivery, Verdict
from consumers.amqp.main import ConsumerConfig, consume_main, handler_factory_for
from consumers.amqp.notifications import NotificationConsumer
from consumers.amqp.requests import VerificationConsumer
from consumers.amqp.routing import ByType, RoutingError, subscribers_for
from consumers.topology import ESCALATION, NOTIFICATIONS, VERIFICATION
from schemas.events_v1 import NOTIFICATION_EMAIL_V1, SLA_BREACHED_V1
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from workflow.domain.retry import RetryPolicy


@dataclass
class Recorder:
    """A subscriber named unlike any queue: only its types can route events to it."""

    types: frozenset[str]
    name: str = "not-a-queue-name"
    seen: list[str] = field(default_factory=list)

    def handle(self, envelope: dict[str, Any]) -> str:
        self.seen.append(str(envelope["id"]))
        return "done"


def app(*subscribers: Recorder) -> Any:
    config = ConsumerConfig(broker_url="amqp://u:p@127.0.0.1:1/v", prefetch=1, heartbeat=5,
                            workers=1, system_user=None, retry=RetryPolicy(2, (1.0,)))
    return SimpleNamespace(consumer_config=lambda: config, request_handler=object(),
                           subscribers=lambda: list(subscribers))


def delivery(event_type: str, event_id: str = "e-1") -> Delivery:
    body = json.dumps({"specversion": "1.0", "id": event_id, "source": "urn:resetdesk",
                       "type": event_type, "subject": "t1", "data": {}}).encode()
    return Delivery(queue=NOTIFICATIONS, body=body, content_type="application/cloudevents+json",
                    headers={}, properties={"message_id": event_id}, attempt=1, max_attempts=2)


def test_each_event_queue_goes_to_the_subscriber_whose_types_cover_it() -> None:
    mail, breach = Recorder(frozenset({NOTIFICATION_EMAIL_V1})), Recorder(
        frozenset({SLA_BREACHED_V1}))
    for queue in (NOTIFICATIONS, ESCALATION):
        handler = handler_factory_for(app(breach, mail), queue)()
        assert isinstance(handler, NotificationConsumer)
        assert handler(delivery(queue.routing_keys[0], f"on-{queue.name}")) == Verdict.ack("done")
    assert mail.seen == ["on-notifications"] and breach.seen == ["on-escalation"]


def test_a_queue_bound_to_several_types_routes_each_to_its_own_subscriber() -> None:
    both = replace(NOTIFICATIONS, routing_keys=(NOTIFICATION_EMAIL_V1, SLA_BREACHED_V1))
    mail, breach = Recorder(frozenset({NOTIFICATION_EMAIL_V1})), Recorder(
        frozenset({SLA_BREACHED_V1}))
    handler = handler_factory_for(app(mail, breach), both)()
    handler(delivery(SLA_BREACHED_V1, "b"))
    handler(delivery(NOTIFICATION_EMAIL_V1, "m"))
    assert (mail.seen, breach.seen) == (["m"], ["b"])


def test_an_event_of_a_type_the_queue_does_not_route_is_dead_lettered_not_handed_on() -> None:
    mail = Recorder(frozenset({NOTIFICATION_EMAIL_V1}))
    handler = handler_factory_for(app(mail), NOTIFICATIONS)()
    verdict = handler(delivery(SLA_BREACHED_V1))
    assert verdict.action == "dead" and verdict.code == "unknown_type"
    assert SLA_BREACHED_V1 in verdict.reason and mail.seen == []


def test_the_request_queue_goes_to_the_intake_without_asking_for_subscribers() -> None:
    def no_subscribers() -> list[Recorder]:
        raise AssertionError("the intake needs no subscriber")

    root = app()
    root.subscribers = no_subscribers
    handler = handler_factory_for(root, VERIFICATION)()
    assert isinstance(handler, VerificationConsumer) and handler.system_user == "u"


def test_a_queue_whose_types_nobody_handles_is_refused_at_start_naming_the_type() -> None:
    with pytest.raises(RoutingError, match=r"escalation.*sla\.breached.*no subscriber handles"):
        handler_factory_for(app(Recorder(frozenset({NOTIFICATION_EMAIL_V1}))), ESCALATION)
    with pytest.raises(ValueError, match="no subscriber handles"):  # before any connection
        consume_main(app(), "notifications")


def test_a_type_claimed_by_two_subscribers_or_a_queue_mixing_requests_and_events_is_refused(
) -> None:
    twice = [Recorder(frozenset({NOTIFICATION_EMAIL_V1}), name=n) for n in ("a", "b")]
    with pytest.raises(RoutingError, match="2 subscribers \\(a, b\\)"):
        subscribers_for(NOTIFICATIONS, twice)
    mixed = replace(VERIFICATION, routing_keys=(REQUEST_SUBMITTED_V1, NOTIFICATION_EMAIL_V1))
    with pytest.raises(RoutingError, match=r"requests .* and to events"):
        handler_factory_for(app(*twice[:1]), mixed)


def test_by_type_offers_the_types_it_routes() -> None:
    mail = Recorder(frozenset({NOTIFICATION_EMAIL_V1, "com.resetdesk.other.v1"}))
    assert ByType(subscribers_for(NOTIFICATIONS, [mail])).types == {NOTIFICATION_EMAIL_V1}
