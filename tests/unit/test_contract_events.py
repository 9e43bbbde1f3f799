"""Outgoing events: one builder, the right data model per type, an orderable sequence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas.events_v1 import (
    EVENT_TYPES,
    NOTIFICATION_EMAIL_V1,
    SLA_BREACHED_V1,
    TICKET_CLOSED_V1,
    TICKET_QUEUED_V1,
    TICKET_TRANSITIONED_V1,
    NotificationEmail,
    SlaRaised,
    TicketClosed,
    TicketQueued,
    TicketTransitioned,
    build_event,
    format_sequence,
)

AT = datetime(2024, 5, 1, 17, 30, tzinfo=UTC)
QUEUED = TicketQueued(ticket_id="t-1", reference="RD-000001", queued_at=AT)


def test_built_event_is_a_structured_cloudevent() -> None:
    event = build_event(TICKET_QUEUED_V1, "t-1", 3, QUEUED, id="e-1", time=AT)
    assert event == {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:resetdesk",
        "type": TICKET_QUEUED_V1,
        "subject": "t-1",
        "time": "2024-05-01T17:30:00Z",
        "datacontenttype": "application/json",
        "sequence": "0000000003",
        "data": {
            "ticket_id": "t-1",
            "reference": "RD-000001",
            "queued_at": "2024-05-01T17:30:00Z",
            "first_reply_due": None,
        },
    }


def test_sequence_strings_sort_like_the_integers() -> None:
    values = [1, 2, 9, 10, 11, 100, 9_999_999_999]
    assert sorted(format_sequence(v) for v in values) == [format_sequence(v) for v in values]
    assert int(format_sequence(42)) == 42


@pytest.mark.parametrize("bad", [0, -1, 10**10, True])
def test_sequence_outside_its_range_is_refused(bad: int) -> None:
    with pytest.raises((ValueError, TypeError)):
        format_sequence(bad)


def test_a_model_that_does_not_match_the_type_is_refused() -> None:
    with pytest.raises(TypeError):
        build_event(TICKET_CLOSED_V1, "t-1", 1, QUEUED)


def test_unknown_type_and_naive_time_are_refused() -> None:
    with pytest.raises(ValueError):
        build_event("com.resetdesk.ticket.frozen.v1", "t-1", 1, QUEUED)
    with pytest.raises(ValueError):
        build_event(TICKET_QUEUED_V1, "t-1", 1, QUEUED, time=datetime(2024, 5, 1))


def test_fresh_id_and_utc_time_by_default() -> None:
    first = build_event(TICKET_QUEUED_V1, "t-1", 1, QUEUED)
    second = build_event(TICKET_QUEUED_V1, "t-1", 2, QUEUED)
    assert first["id"] != second["id"]
    assert first["time"].endswith("Z")


def test_every_type_has_a_model_that_round_trips_through_json() -> None:
    samples = {
        TicketQueued: QUEUED,
        TicketClosed: TicketClosed(
            ticket_id="t-1", reference="RD-1", outcome="rejected-attestation", reason="no"
        ),
        TicketTransitioned: TicketTransitioned(
            ticket_id="t-1",
            reference="RD-1",
            from_state="queued",
            to_state="in_progress",
            trigger="claim",
            actor="agent:ana",
            at=AT,
        ),
        SlaRaised: SlaRaised(ticket_id="t-1", clock="first_reply", cycle=1, due_at=AT, raised_at=AT),
        NotificationEmail: NotificationEmail(
            ticket_id="t-1",
            template="request_received",
            language="fr",
            context={"reference": "RD-1", "attempt": 2, "agent": None},
        ),
    }
    for event_type, model in EVENT_TYPES.items():
        event = build_event(event_type, "t-1", 1, samples[model])
        wire = json.loads(json.dumps(event))
        assert model.model_validate(wire["data"]) == samples[model]


def test_times_in_other_offsets_are_published_in_utc() -> None:
    pdt = timezone(timedelta(hours=-7))
    sla = SlaRaised(
        ticket_id="t-1",
        clock="resolution",
        cycle=0,
        due_at=datetime(2024, 5, 1, 10, 30, tzinfo=pdt),
        raised_at=AT,
    )
    event = build_event(SLA_BREACHED_V1, "t-1", 1, sla, time=AT.astimezone(pdt))
    assert event["data"]["due_at"] == "2024-05-01T17:30:00Z"
    assert event["time"] == "2024-05-01T17:30:00Z"


def test_outgoing_models_are_strict_too() -> None:
    with pytest.raises(ValidationError):
        SlaRaised.model_validate(
            {"ticket_id": "t", "clock": "first_reply", "cycle": "1", "due_at": AT, "raised_at": AT}
        )
    with pytest.raises(ValidationError):
        NotificationEmail(ticket_id="t", template="x", language="fr", context={"flag": True})
    with pytest.raises(ValidationError):
        NotificationEmail(ticket_id="t", template="x", language="fr", to="not an email")


def test_notification_may_omit_the_address() -> None:
    event = build_event(
        NOTIFICATION_EMAIL_V1,
        "t-1",
        1,
        NotificationEmail(ticket_id="t-1", template="reply", language="en"),
    )
    assert event["data"]["to"] is None
    assert TICKET_TRANSITIONED_V1 in EVENT_TYPES
