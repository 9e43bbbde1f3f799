"""Each kind of bad message is refused with its machine code and a reason naming the field."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from schemas.errors import ContractError
from schemas.jsonstrict import MAX_BODY_BYTES
from schemas.registry import decode_structured
from schemas.requests_v1 import MAX_EXPORT_BYTES
from schemas.sample import DELETE, PNG_1X1, sample_export, sample_request


def _refused(raw: bytes | dict[str, Any]) -> ContractError:
    body = json.dumps(raw).encode() if isinstance(raw, dict) else raw
    with pytest.raises(ContractError) as info:
        decode_structured(body)
    return info.value


def _assert_refused(event: dict[str, Any], code: str, path: str) -> ContractError:
    error = _refused(event)
    assert (error.code, error.path) == (code, path), error.reason
    assert error.reason.startswith(f"{path}:"), error.reason
    return error


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"data__requester__email": DELETE}, "data.requester.email"),
        (
            {"data__attestation__authorised_and_responsible": DELETE},
            "data.attestation.authorised_and_responsible",
        ),
        ({"data__device": DELETE}, "data.device"),
        ({"data": DELETE}, "data"),
        ({"id": DELETE}, "id"),
        ({"source": DELETE}, "source"),
        ({"type": DELETE}, "type"),
        ({"specversion": DELETE}, "specversion"),
    ],
)
def test_missing_field_is_refused(override: dict[str, Any], path: str) -> None:
    _assert_refused(sample_request(**override), "missing_field", path)


@pytest.mark.parametrize(
    ("override", "path"),
    [
        (
            {"data__attestation__authorised_and_responsible": "true"},
            "data.attestation.authorised_and_responsible",
        ),
        ({"data__attestation__on_site_or_network": 1}, "data.attestation.on_site_or_network"),
        ({"data__requester__name": 123}, "data.requester.name"),
        ({"data__requester": "Dana"}, "data.requester"),
        ({"data__device__current_date": 20240501}, "data.device.current_date"),
        ({"data__attestation__accepted_at": 1714584600}, "data.attestation.accepted_at"),
        ({"data": ["not", "an", "object"]}, "data"),
        ({"id": 42}, "id"),
    ],
)
def test_wrong_type_is_refused_without_coercion(override: dict[str, Any], path: str) -> None:
    _assert_refused(sample_request(**override), "wrong_type", path)


def test_unknown_field_is_refused() -> None:
    _assert_refused(
        sample_request(data__requester__fax="+15035550100"), "unknown_field", "data.requester.fax"
    )


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"data__reset_method": "local_monitor"}, "data.reset_method"),
        ({"data__requester__language": "es"}, "data.requester.language"),
        ({"data__requester__customer_type": "integrator"}, "data.requester.customer_type"),
        ({"data__device__kind": "DVR"}, "data.device.kind"),
    ],
)
def test_bad_enum_is_refused_with_the_allowed_values(override: dict[str, Any], path: str) -> None:
    error = _assert_refused(sample_request(**override), "bad_enum", path)
    assert "'" in error.reason


def test_body_over_two_mebibytes_is_refused_before_parsing() -> None:
    error = _refused(b"{" + b" " * MAX_BODY_BYTES + b"}")
    assert error.code == "oversize"


def test_export_over_one_mebibyte_is_refused() -> None:
    too_big = PNG_1X1 + b"\x00" * (MAX_EXPORT_BYTES + 1 - len(PNG_1X1))
    export = sample_export() | {"content_base64": base64.b64encode(too_big).decode()}
    _assert_refused(sample_request(data__export=export), "oversize", "data.export.content_base64")


def test_export_of_exactly_one_mebibyte_is_accepted() -> None:
    exact = PNG_1X1 + b"\x00" * (MAX_EXPORT_BYTES - len(PNG_1X1))
    export = sample_export() | {"content_base64": base64.b64encode(exact).decode()}
    body = json.dumps(sample_request(data__export=export)).encode()
    assert decode_structured(body).data.export is not None


def test_overlong_text_is_refused_as_too_long() -> None:
    _assert_refused(sample_request(data__note="x" * 2001), "too_long", "data.note")


@pytest.mark.parametrize(
    ("event_type", "code"),
    [
        ("com.example.something.v1", "unknown_type"),
        ("com.resetdesk.ticket.queued.v1", "unknown_type"),
        ("com.resetdesk.request.submitted.v2", "unknown_version"),
        ("com.resetdesk.request.submitted", "unknown_version"),
    ],
)
def test_unknown_type_or_version_is_refused(event_type: str, code: str) -> None:
    error = _assert_refused(sample_request(type=event_type), code, "type")
    if code == "unknown_version":
        assert "com.resetdesk.request.submitted.v1" in error.reason


def test_type_is_judged_before_the_data() -> None:
    event = sample_request(type="com.resetdesk.request.submitted.v2", data={"anything": 1})
    assert _refused(event).code == "unknown_version"


def test_other_specversion_is_refused() -> None:
    _assert_refused(sample_request(specversion="0.3"), "bad_specversion", "specversion")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "not_json"),
        (b"", "not_json"),
        (b"\xef\xbb\xbf{}", "not_json"),
        (b"[1, 2]", "not_object"),
        (b'"a string"', "not_object"),
        (b'{"id": "caf\xe9"}', "not_utf8"),
        (b'{"id": "\xed\xa0\x80"}', "not_utf8"),
    ],
)
def test_unparseable_body_is_refused(raw: bytes, code: str) -> None:
    assert _refused(raw).code == code


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_are_refused(number: str) -> None:
    body = json.dumps(sample_request()).replace('"nvr"', number).encode()
    assert _refused(body).code == "bad_number"


def test_nul_character_in_a_string_is_refused_with_its_path() -> None:
    error = _refused(sample_request(data__requester__name="Dana\u0000Whitfield"))
    assert (error.code, error.path) == ("nul_char", "data.requester.name")
    assert "data.requester.name" in error.reason


def test_nul_character_in_a_key_is_refused() -> None:
    assert _refused(sample_request(data__requester__x="y")).code == "unknown_field"
    assert _refused(sample_request(**{"data__requester__a\u0000b": "y"})).code == "nul_char"


def test_duplicate_keys_are_refused() -> None:
    body = json.dumps(sample_request())[:-1] + ', "id": "other"}'
    assert _refused(body.encode()).code == "duplicate_key"


@pytest.mark.parametrize(
    "email", ["not-an-email", "dana@", "Dana <dana@example.com>", "dana@example..com", "a" * 250 + "@x.co"]
)
def test_bad_email_is_refused(email: str) -> None:
    error = _refused(sample_request(data__requester__email=email))
    assert error.path == "data.requester.email"
    assert error.code in {"bad_value", "too_long"}


@pytest.mark.parametrize("phone", ["503-555-0147", "+1 503 555 0147", "15035550147", "+0123456789", "+1"])
def test_bad_phone_is_refused(phone: str) -> None:
    error = _assert_refused(sample_request(data__requester__phone=phone), "bad_value", "data.requester.phone")
    assert "E.164" in error.reason


@pytest.mark.parametrize("country", ["XX", "us", "USA", "UK", "XK"])
def test_bad_country_is_refused(country: str) -> None:
    error = _refused(sample_request(data__requester__country=country))
    assert error.path == "data.requester.country"
    assert error.code in {"bad_value", "too_long"}


@pytest.mark.parametrize("content", ["!!!!not base64", "iVBORw0KGgo", "iVBO Rw0K", "iVBORw0KGgo_-A="])
def test_bad_base64_is_refused(content: str) -> None:
    export = sample_export() | {"content_base64": content}
    _assert_refused(sample_request(data__export=export), "bad_base64", "data.export.content_base64")


@pytest.mark.parametrize(
    ("kind", "media_type", "content"),
    [
        ("qr_photo", "image/png", b"\xff\xd8\xff\xe0JFIF"),
        ("qr_photo", "image/jpeg", PNG_1X1),
        ("xml", "application/xml", PNG_1X1),
        ("xml", "text/xml", b"PK\x03\x04zip"),
    ],
)
def test_export_whose_magic_bytes_differ_from_its_media_type_is_refused(
    kind: str, media_type: str, content: bytes
) -> None:
    export = {
        "kind": kind,
        "media_type": media_type,
        "filename": "f",
        "content_base64": base64.b64encode(content).decode(),
    }
    _assert_refused(sample_request(data__export=export), "bad_magic", "data.export")


def test_export_media_type_must_fit_its_kind() -> None:
    export = sample_export("xml") | {"media_type": "image/png"}
    _assert_refused(sample_request(data__export=export), "bad_value", "data.export")


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"data__device__current_date": "2024-02-30"}, "data.device.current_date"),
        ({"data__device__start_time": "2024-04-28T09:12:44"}, "data.device.start_time"),
        ({"data__device__start_time": "2024-13-28 09:12:44"}, "data.device.start_time"),
        ({"data__attestation__accepted_at": "2024-05-01T17:30:00"}, "data.attestation.accepted_at"),
        ({"time": "yesterday"}, "time"),
        ({"data__requester__name": "   "}, "data.requester.name"),
        ({"data__requester__name": "Dana\nWhitfield"}, "data.requester.name"),
        ({"data__export": sample_export() | {"filename": "../../etc/passwd"}}, "data.export.filename"),
        ({"data__device__serial_number": "DS 7608 NI"}, "data.device.serial_number"),
        ({"source": "not a uri"}, "source"),
    ],
)
def test_badly_formatted_value_is_refused(override: dict[str, Any], path: str) -> None:
    _assert_refused(sample_request(**override), "bad_value", path)


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"datacontenttype": "text/plain"}, "datacontenttype"),
        ({"datacontenttype": "application/xml"}, "datacontenttype"),
        ({"data": DELETE, "data_base64": "e30="}, "data_base64"),
    ],
)
def test_data_that_is_not_json_is_refused(override: dict[str, Any], path: str) -> None:
    _assert_refused(sample_request(**override), "unsupported_content_type", path)


def test_json_content_type_with_utf8_charset_is_accepted() -> None:
    body = json.dumps(sample_request(datacontenttype="application/json; charset=UTF-8")).encode()
    assert decode_structured(body).datacontenttype == "application/json"


@pytest.mark.parametrize(
    ("extensions", "code"),
    [
        ({"Trace-Parent": "x"}, "unknown_field"),
        ({"averyveryverylongextname": "x"}, "unknown_field"),
        ({"nested": {"a": 1}}, "wrong_type"),
        ({"big": 2**40}, "bad_value"),
        ({"long": "x" * 257}, "too_long"),
        ({f"ext{i}": "x" for i in range(17)}, "bad_value"),
    ],
)
def test_unbounded_extensions_are_refused(extensions: dict[str, Any], code: str) -> None:
    assert _refused(sample_request(**extensions)).code == code


def test_every_problem_is_listed_and_the_first_decides_the_code() -> None:
    error = _refused(sample_request(data__requester__email="x", data__requester__phone="y"))
    assert [path for _, path, _ in error.errors] == ["data.requester.email", "data.requester.phone"]
    assert "data.requester.phone" in error.reason
