"""Which code consumes a queue, chosen by the event types the queue is bound to.

A queue's routing keys are event types (``consumers.topology``). Request types (what producers
publish, ``schemas.registry.INBOUND_TYPES``) go to the intake; every other type goes to the one
subscriber whose ``types`` include it — the same subscribers the embedded delivery workers
call, so neither side matches a name string. A queue bound to a type nobody handles, to a type
two subscribers claim (one ack cannot settle two deliveries), or to requests and events at once
is refused when the consumer starts, not discovered one dead letter at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from consumers.topology import ConsumerQueue
from schemas.errors import Code, ContractError
from schemas.registry import INBOUND_TYPES


class EventSubscriber(Protocol):
    """What an event subscriber offers (``consumers.embedded.Subscriber`` fits)."""

    @property
    def types(self) -> frozenset[str]: ...
    def handle(self, envelope: dict[str, Any]) -> str: ...


class RoutingError(ValueError):
    """The queue's bound event types and the subscribers do not match."""


def is_intake(queue: ConsumerQueue) -> bool:
    """True when the queue carries requests only, False when events only; else RoutingError."""
    requests = [t for t in queue.routing_keys if t in INBOUND_TYPES]
    if requests and len(requests) != len(queue.routing_keys):
        raise RoutingError(f"queue {queue.name!r} is bound to requests ({', '.join(requests)}) "
                           f"and to events: give each its own queue")
    return bool(requests)


def subscribers_for(queue: ConsumerQueue,
                    subscribers: Iterable[EventSubscriber]) -> dict[str, EventSubscriber]:
    """Each event type the queue is bound to, with the one subscriber that handles it."""
    candidates = list(subscribers)
    routes: dict[str, EventSubscriber] = {}
    missing: list[str] = []
    for event_type in queue.routing_keys:
        covering = [s for s in candidates if event_type in s.types]
        if not covering:
            missing.append(event_type)
        elif len(covering) > 1:
            raise RoutingError(f"queue {queue.name!r}: event type {event_type!r} has "
                               f"{len(covering)} subscribers ({_names(covering)}); one ack "
                               f"settles one of them only: give each its own queue")
        else:
            routes[event_type] = covering[0]
    if missing:
        known = sorted({t for s in candidates for t in s.types})
        raise RoutingError(f"queue {queue.name!r} is bound to {', '.join(missing)} but no "
                           f"subscriber handles it (subscribers handle: "
                           f"{', '.join(known) or 'nothing'})")
    return routes


def _names(subscribers: Iterable[EventSubscriber]) -> str:
    return ", ".join(str(getattr(s, "name", type(s).__name__)) for s in subscribers)


@dataclass(frozen=True)
class ByType:
    """A subscriber that hands each event to the subscriber routed for its ``type``; a type
    the queue is not bound to is a contract error (dead-lettered, never retried)."""

    routes: Mapping[str, EventSubscriber]

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self.routes)

    def handle(self, envelope: dict[str, Any]) -> str:
        event_type = envelope.get("type")
        subscriber = self.routes.get(event_type) if isinstance(event_type, str) else None
        if subscriber is None:
            raise ContractError(Code.UNKNOWN_TYPE,
                                f"event type {event_type!r} is not routed to this queue "
                                f"(expected {', '.join(sorted(self.routes))})", path="type")
        return subscriber.handle(envelope)
