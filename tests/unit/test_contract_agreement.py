"""The exported JSON Schema refuses what the server refuses, and accepts what it accepts.

Producers in other languages validate with schemas/jsonschema/; if the schema let through what
ResetDesk then refuses (country "UK" did), their checks would be worth nothing. Each hostile or
edge value below goes through both the JSON Schema validator and the server's decoder, and the
two must agree. What a schema cannot say (an email's full rules, an impossible calendar date,
the export's magic bytes and exact decoded size) is listed in docs/contract.md, not walked here.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError, validators

from schemas.errors import ContractError
from schemas.export import SCHEMA_DIR
from schemas.registry import decode_structured
from schemas.sample import DELETE, PNG_1X1, sample_export, sample_request

REQUEST_SCHEMA = json.loads(
    (SCHEMA_DIR / "com.resetdesk.request.submitted.v1.json").read_text(encoding="utf-8"))


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any
                  ) -> Iterator[ValidationError]:
    """``pattern`` as ECMA-262 reads it: ``$`` is the end of input (Python's ``$`` also matches
    before a final newline, which no producer's validator in another language does)."""
    if not validator.is_type(instance, "string"):
        return
    anchored = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if re.search(anchored, instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


Validator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})
SCHEMA = Validator(REQUEST_SCHEMA)

R, D, A, E = "data__requester__", "data__device__", "data__attestation__", "data__export__"
CONTROL = ["\x00", "\x07", "\n", "\r", "\t", "\x1b", "\x7f", "\x85", "\x9f"]
BLANK = [" ", "\u00a0", "\u2003", "\u3000", " \u2028 "]

HOSTILE: list[tuple[str, Any]] = [
    *[(R + "country", v) for v in ["UK", "EU", "XK", "ZZ", "us", "U", "USA", "GB", "CA", "US ",
                                   "\u0055\u0053\n", "ＵＳ"]],
    *[(R + "time_zone", v) for v in ["America/Toronto", "Asia/Calcutta", "US/Pacific", "UTC",
                                     "america/toronto", "America/Toronto ", "Mars/Olympus",
                                     "Etc/GMT+5", "EST5EDT", "localtime", "", None, 5,
                                     "America/Toronto\n", "../../etc/passwd"]],
    *[(R + "name", "Dana" + c + "W") for c in CONTROL],
    *[(R + "name", v) for v in [*BLANK, "Dana\n", "\ufeff", "Zoë Ñ 李", "x" * 120, "x" * 121,
                                "Dana\u2028W", "Dana\u00a0W"]],
    *[(R + "purchased_from", v) for v in ["", "\t", "Shop\r\n"]],
    *[(R + "company", v) for v in ["", " ", "Acme\x00", None, "Acme"]],
    *[(R + "phone", v) for v in ["+16045550123\n", "+16045550123", "16045550123", "+0604555012",
                                 "+1 604 555 0123", "+١٦٠٤٥٥٥٠١٢٣", "+1234567890123456"]],
    *[(R + "language", v) for v in ["en", "fr", "EN", "de", ""]],
    *[(D + "firmware_version", v) for v in ["V4.30.085 build 200916", "V4.3\n", " ", "\x85"]],
    *[(D + "start_time", v) for v in ["2024-04-28 09:12:44", "٢٠٢٤-04-28 09:12:44",
                                      "2024-04-28 09:12:44\n", "2024-04-28T09:12:44"]],
    *[(D + "current_date", v) for v in ["2024-05-01", "2024-05-01\n", "20240501", "٢٠٢٤-05-01",
                                        "2024-5-1"]],
    *[(D + "model_number", v) for v in ["DS-7608NI-I2/8P", "DS-7608NI-I2/8P\n", "-DS", "DS 76"]],
    *[(A + "accepted_at", v) for v in ["2024-05-01T17:30:00Z", "2024-05-01T17:30:00Z\n",
                                       "2024-05-01 17:30:00Z", "2024-05-01T17:30:00",
                                       "٢٠٢٤-05-01T17:30:00Z", "1714584600"]],
    *[("data__note", v) for v in ["line\nline\ttab\r\n", "bell\x07", "\x85", "", None]],
    ("data__reset_method", "local_monitor"),
    ("data__surprise", "x"),
    (R + "region", "BC"),
]
PNG = base64.b64encode(PNG_1X1).decode()
EXPORTS: list[tuple[str, Any]] = [
    *[(E + "filename", v) for v in ["export.png", ".", "..", "...", "a/b.png", "a\\b.png",
                                    "x\n.png", " ", ".hidden"]],
    *[(E + "media_type", v) for v in ["image/png", "application/xml", "image/gif"]],
    *[(E + "content_base64", v) for v in [PNG, PNG + "\n", PNG.rstrip("="), "QQ==QQ==",
                                          PNG.replace("+", "-"), "====", "@@@@"]],
]


def _server_accepts(event: dict[str, Any]) -> bool:
    try:
        decode_structured(json.dumps(event).encode())
    except ContractError:
        return False
    return True


def _check(event: dict[str, Any]) -> None:
    schema_ok = SCHEMA.is_valid(event["data"])
    server_ok = _server_accepts(event)
    assert schema_ok == server_ok, (
        f"schema {'accepts' if schema_ok else 'refuses'} but server "
        f"{'accepts' if server_ok else 'refuses'}")


@pytest.mark.parametrize(("path", "value"), HOSTILE, ids=repr)
def test_schema_and_server_agree_on_request_fields(path: str, value: Any) -> None:
    _check(sample_request(**{path: value}))


@pytest.mark.parametrize(("path", "value"), EXPORTS, ids=repr)
def test_schema_and_server_agree_on_the_export(path: str, value: Any) -> None:
    _check(sample_request(data__export=sample_export(), **{path: value}))


def test_uk_is_refused_by_both() -> None:
    event = sample_request(data__requester__country="UK")
    assert not SCHEMA.is_valid(event["data"])
    assert not _server_accepts(event)


def test_a_v1_request_without_a_time_zone_is_still_accepted() -> None:
    """Producers written before `time_zone` existed send no such field: nothing changes."""
    event = sample_request(data__requester__time_zone=DELETE)
    assert "time_zone" not in event["data"]["requester"]
    assert SCHEMA.is_valid(event["data"])
    decoded = decode_structured(json.dumps(event).encode())
    assert decoded.data.requester.time_zone is None  # type: ignore[attr-defined]


def test_the_time_zone_is_optional_and_documented_in_the_schema() -> None:
    requester = REQUEST_SCHEMA["$defs"]["Requester"]
    assert "time_zone" in requester["properties"]
    assert "time_zone" not in requester["required"]
    assert "older" in requester["properties"]["time_zone"]["description"]
