"""Messages built by the real CloudEvents SDK decode to the same event in every binding/mode."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.core.bindings import amqp, http, rabbitmq
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.errors import ContractError
from schemas.registry import decode, decode_amqp, decode_binary, decode_structured
from schemas.requests_v1 import RequestSubmittedV1
from schemas.sample import full_serial, sample_export, sample_request, sample_request_data


def _sdk_event(event: dict[str, Any]) -> CloudEvent:
    attributes = {k: v for k, v in event.items() if k != "data"}
    attributes["time"] = datetime.fromisoformat(attributes["time"])
    return CloudEvent(attributes, event["data"])


def _body(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def test_sample_round_trips_through_structured_bytes() -> None:
    event = sample_request(subject="reset-form/42", traceparent="00-abc-def-01")
    decoded = decode_structured(_body(event))
    assert decoded.id == event["id"]
    assert decoded.source == "urn:resetdesk:sample"
    assert decoded.subject == "reset-form/42"
    assert decoded.time == datetime(2024, 5, 1, 17, 30, 5, tzinfo=UTC)
    assert decoded.extensions == {"traceparent": "00-abc-def-01"}
    assert decoded.data == RequestSubmittedV1.model_validate(event["data"])
    assert decoded.data.model_dump(mode="json", exclude_none=True) == event["data"]


def test_each_sample_gets_a_fresh_id_unless_given() -> None:
    assert sample_request()["id"] != sample_request()["id"]
    assert sample_request(id="fixed")["id"] == "fixed"


def test_sdk_http_structured_message_decodes() -> None:
    event = sample_request()
    message = http.to_structured(_sdk_event(event), JSONFormat())
    decoded = decode(message.headers, message.body)
    assert decoded == decode_structured(_body(event))


def test_sdk_http_binary_message_decodes_to_the_same_event() -> None:
    event = sample_request(subject="form 42 / é")
    message = http.to_binary(_sdk_event(event), JSONFormat())
    assert message.headers["ce-subject"] != "form 42 / é"  # the SDK percent-encoded it
    decoded = decode(message.headers, message.body)
    assert decoded == decode_structured(_body(event))
    assert decoded.subject == "form 42 / é"


def test_binary_headers_are_case_insensitive() -> None:
    event = sample_request()
    message = http.to_binary(_sdk_event(event), JSONFormat())
    shouted = {k.upper(): v for k, v in message.headers.items()}
    assert decode_binary(shouted, message.body).id == event["id"]


def test_sdk_rabbitmq_binary_and_structured_messages_decode() -> None:
    event = sample_request(subject="form 42 / é")
    expected = decode_structured(_body(event))
    sdk_event = _sdk_event(event)
    for message in (rabbitmq.to_binary_event(sdk_event), rabbitmq.to_structured_event(sdk_event)):
        assert decode_amqp(message.headers, message.body, message.content_type) == expected


def test_amqp_1_0_property_names_and_millisecond_time_decode() -> None:
    event = sample_request()
    message = amqp.to_binary_event(_sdk_event(event))
    assert "cloudEvents_id" in message.application_properties
    decoded = decode_amqp(
        message.application_properties,
        message.application_data,
        message.properties["content-type"],
    )
    assert decoded == decode_structured(_body(event))
    colon = {k.replace("_", ":", 1): v for k, v in message.application_properties.items()}
    assert decode_amqp(colon, message.application_data, "application/json").id == event["id"]


def test_same_content_has_the_same_digest_whatever_the_id_mode_or_key_order() -> None:
    event = sample_request()
    again = sample_request(time="2024-05-01T18:00:00Z")
    reordered = dict(reversed(list(event.items())))
    binary = http.to_binary(_sdk_event(event), JSONFormat())
    digests = {
        decode_structured(_body(event)).content_digest,
        decode_structured(_body(again)).content_digest,
        decode_structured(_body(reordered)).content_digest,
        decode(binary.headers, binary.body).content_digest,
    }
    assert len(digests) == 1


def test_different_content_has_a_different_digest() -> None:
    first = decode_structured(_body(sample_request(id="same")))
    second = decode_structured(_body(sample_request(id="same", data__note="other words")))
    assert first.content_digest != second.content_digest


def test_equal_instants_in_other_offsets_give_the_same_digest() -> None:
    utc = sample_request(data__attestation__accepted_at="2024-05-01T17:30:00Z")
    pdt = sample_request(data__attestation__accepted_at="2024-05-01T10:30:00-07:00")
    assert decode_structured(_body(utc)).content_digest == (decode_structured(_body(pdt)).content_digest)


@pytest.mark.parametrize("kind", ["qr_photo", "xml"])
def test_export_round_trips_and_decodes_to_its_bytes(kind: str) -> None:
    decoded = decode_structured(_body(sample_request(data__export=sample_export(kind))))
    assert decoded.data.export is not None
    assert decoded.data.export.kind == kind
    assert decoded.data.export.content()[:1] in {b"\x89", b"<"}


def test_business_rejections_are_still_valid_contracts() -> None:
    data = sample_request_data(
        attestation__authorised_and_responsible=False,
        attestation__on_site_or_network=False,
        requester__country="FR",
        requester__language="fr",
        requester__customer_type="end_user",
        requester__company=None,
        note=None,
    )
    decoded = decode_structured(_body(sample_request(data=data)))
    assert decoded.data.attestation.authorised_and_responsible is False
    assert decoded.data.requester.company is None


def test_full_serial_is_model_then_serial_and_idempotent() -> None:
    serial = full_serial("DS-7208HUHI-F2/N", "0820160816CCRR123456789WCVU")
    assert serial == "DS-7208HUHI-F2/N0820160816CCRR123456789WCVU"
    assert full_serial("DS-7208HUHI-F2/N", serial) == serial


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_refused_only_with_a_contract_error(raw: bytes) -> None:
    with pytest.raises(ContractError):
        decode_structured(raw)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_paths = st.sampled_from(
    [
        "id",
        "time",
        "type",
        "data__requester__email",
        "data__requester__phone",
        "data__device__current_date",
        "data__export",
        "data__attestation",
        "data__note",
        "data__requester",
        "specversion",
        "data",
    ]
)


@settings(max_examples=300)
@given(_paths, _json)
def test_a_mangled_field_decodes_or_is_refused_with_a_contract_error(path: str, value: Any) -> None:
    try:
        decode_structured(_body(sample_request(**{path: value})))
    except ContractError as exc:
        assert exc.code and exc.reason
