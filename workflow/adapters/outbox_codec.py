"""Turns domain events into the CloudEvents the outbox stores and the relay publishes as they are."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime
from typing import Any

from workflow.domain.events import DomainEvent, SlaRaised

EVENT_SOURCE = "urn:resetdesk"
TYPE_PREFIX = "com.resetdesk."


def event_type(event: DomainEvent) -> str:
    kind = f"sla.{event.level}" if isinstance(event, SlaRaised) else event.kind
    return f"{TYPE_PREFIX}{kind}.v1"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def event_data(event: DomainEvent) -> dict[str, Any]:
    data = {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}
    data.pop("at")
    data["at"] = event.at.isoformat()
    if isinstance(event, SlaRaised):
        data.pop("level")
    return data


def encode(event: DomainEvent, sequence: int) -> tuple[str, str, str]:
    """(event id, type, structured-mode CloudEvent JSON) for one outbox row."""
    event_id = uuid.uuid4().hex
    etype = event_type(event)
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "source": EVENT_SOURCE,
        "type": etype,
        "subject": event.ticket_id,
        "time": event.at.isoformat(),
        "datacontenttype": "application/json",
        "sequence": str(sequence),
        "data": event_data(event),
    }
    return event_id, etype, json.dumps(envelope, separators=(",", ":"), sort_keys=True)
