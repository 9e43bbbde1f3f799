"""Binary-mode and transport-level refusals: headers are judged before the body."""

from __future__ import annotations

import json

import pytest
from cloudevents.core.bindings import http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from schemas.errors import ContractError
from schemas.registry import decode, decode_amqp, decode_binary
from schemas.sample import sample_request, sample_request_data


def _headers(**extra: str) -> dict[str, str]:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "form-1",
        "ce-source": "urn:resetdesk:sample",
        "ce-type": "com.resetdesk.request.submitted.v1",
        "Content-Type": "application/json",
    }
    headers.update(extra)
    return headers


_DATA = json.dumps(sample_request_data()).encode()


def _code(headers: dict[str, str], body: bytes = _DATA) -> ContractError:
    with pytest.raises(ContractError) as info:
        decode(headers, body)
    return info.value


def test_binary_mode_with_valid_headers_decodes() -> None:
    assert decode(_headers(), _DATA).id == "form-1"


def test_unknown_type_is_refused_before_the_body_is_read() -> None:
    error = _code(_headers(**{"ce-type": "com.example.other.v1"}), b"\xff not json")
    assert error.code == "unknown_type"


def test_binary_mode_refuses_a_content_type_other_than_json() -> None:
    error = _code(_headers(**{"Content-Type": "text/plain"}))
    assert (error.code, error.path) == ("unsupported_content_type", "datacontenttype")


def test_binary_mode_without_content_type_is_read_as_json() -> None:
    headers = _headers()
    del headers["Content-Type"]
    assert decode(headers, _DATA).datacontenttype == "application/json"
    assert _code(headers, b"form=1").code == "not_json"


def test_batch_and_non_json_structured_formats_are_refused() -> None:
    for media in ("application/cloudevents-batch+json", "application/cloudevents+avro"):
        assert _code({"content-type": media}, b"[]").code == "unsupported_content_type"


def test_plain_json_without_ce_headers_is_refused_as_missing_specversion() -> None:
    body = json.dumps(sample_request()).encode()
    error = _code({"Content-Type": "application/json"}, body)
    assert (error.code, error.path) == ("missing_field", "specversion")


def test_data_errors_in_binary_mode_name_the_data_path() -> None:
    body = json.dumps(sample_request_data(requester__email="nope")).encode()
    error = _code(_headers(), body)
    assert (error.code, error.path) == ("bad_value", "data.requester.email")


def test_empty_binary_body_is_a_missing_data_field() -> None:
    assert _code(_headers(), b"").code == "missing_field"


def test_nul_in_a_binary_body_names_the_data_path() -> None:
    body = json.dumps(sample_request_data(note="a\u0000b")).encode()
    error = _code(_headers(), body)
    assert (error.code, error.path) == ("nul_char", "data.note")


def test_percent_encoded_header_that_is_not_utf8_is_refused() -> None:
    assert _code(_headers(**{"ce-subject": "caf%E9"})).code == "not_utf8"


def test_the_same_attribute_twice_is_refused() -> None:
    headers = _headers(**{"CE-ID": "form-2"})
    assert _code(headers).code == "duplicate_key"


@pytest.mark.parametrize("name", ["ce-data", "ce-datacontenttype"])
def test_headers_that_would_shadow_the_body_are_refused(name: str) -> None:
    assert _code(_headers(**{name: "x"})).code == "unknown_field"


def test_oversize_binary_body_is_refused_before_parsing() -> None:
    assert _code(_headers(), b" " * (2 * 1024 * 1024 + 1)).code == "oversize"


def test_bad_time_header_is_refused() -> None:
    error = _code(_headers(**{"ce-time": "2024-05-01"}))
    assert (error.code, error.path) == ("bad_value", "time")


def test_amqp_message_with_a_foreign_content_type_is_refused() -> None:
    headers = {k: v for k, v in _headers().items() if k.startswith("ce-")}
    with pytest.raises(ContractError) as info:
        decode_amqp(headers, _DATA, "application/octet-stream")
    assert info.value.code == "unsupported_content_type"


def test_amqp_header_bytes_that_are_not_utf8_are_refused() -> None:
    headers: dict[str, object] = {k: v for k, v in _headers().items() if k.startswith("ce-")}
    headers["ce-subject"] = b"caf\xe9"
    with pytest.raises(ContractError) as info:
        decode_amqp(headers, _DATA, "application/json")
    assert info.value.code == "not_utf8"


def test_sdk_binary_message_with_extension_keeps_it() -> None:
    event = CloudEvent(
        {
            "type": "com.resetdesk.request.submitted.v1",
            "source": "urn:resetdesk:sample",
            "formref": "A-17",
        },
        sample_request_data(),
    )
    message = http.to_binary(event, JSONFormat())
    decoded = decode_binary(message.headers, message.body)
    assert decoded.extensions == {"formref": "A-17"}
    assert decoded.time is not None
