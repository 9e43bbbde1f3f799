"""The checks that turn a message's content into a dead-letter reason instead of an exception on
the connection's thread (no broker needed; tests/faults/test_poison_amqp.py runs them on one)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import amqp
import pytest
from amqp import serialization, spec

from consumers.amqp.delivery import body_problem, delivery_from_message
from consumers.amqp.headers import REMOVED_HEADER, measure, screen
from consumers.amqp.properties import install, lenient_properties
from consumers.topology import VERIFICATION


def nested(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_measure_walks_any_depth_without_recursion() -> None:
    depth, size = measure(nested(200_000))  # far past any recursion limit
    assert depth == 200_000 and size == 5 * 200_000
    assert measure("abc") == (0, 8)
    assert measure([{"k": [1]}])[0] == 3  # as deep as x-death


def test_screen_removes_deep_and_oversized_headers_and_notes_them() -> None:
    x_death = [{"queue": "q", "count": 1, "routing-keys": ["k"]}]
    got = screen({"x-death": x_death, "x-deep": nested(3000), "x-big": "b" * 100_000, "ok": 1})
    assert set(got.headers) == {"x-death", "ok", REMOVED_HEADER}
    assert "'x-deep' nested 3000 deep" in got.problem and "'x-big' removed" in got.problem
    assert got.headers[REMOVED_HEADER] == got.problem
    fine = screen({"x-death": x_death, "ce-id": "1"})
    assert fine.problem == "" and REMOVED_HEADER not in fine.headers


@pytest.mark.parametrize(("encoding", "body", "refused"), [
    (None, b"\xff", ""), ("identity", b"{}", ""), ("UTF-8", b"{}", ""),
    ("gzip", b"{}", "unsupported content-encoding 'gzip'"),
    ("utf-8", b"\xff", "not UTF-8 (byte 0)"),
])
def test_content_encoding(encoding: str | None, body: bytes, refused: str) -> None:
    problem = body_problem(body, encoding)
    assert (refused in problem) if refused else problem == ""


def test_a_delivery_is_built_from_whatever_py_amqp_hands_over() -> None:
    message = SimpleNamespace(body="", properties={"content_type": "x", "app_id": b"\xff",
                                                   "application_headers": {"d": nested(50)}},
                              delivery_info={"redelivered": True})
    d = delivery_from_message(VERIFICATION, message)
    assert d.body == b"" and d.redelivered and "d" not in d.headers
    assert "nested 50 deep" in d.problem
    d = delivery_from_message(VERIFICATION, SimpleNamespace(body=b"x", properties={"app_id": b"\xff"}))
    assert d.problem == "property app_id not UTF-8"


def test_properties_that_are_not_utf8_are_read_as_bytes() -> None:
    raw = amqp.Message(b"", content_type="application/json", app_id=b"\xff\xfe", message_id="m",
                       application_headers={"h": [1]}, timestamp=7)._serialize_properties()
    original = serialization.decode_properties_basic
    with pytest.raises(UnicodeDecodeError):
        original(raw, 0)
    props, end = lenient_properties(raw, 0)
    assert end == len(raw)
    assert props == {"content_type": "application/json", "app_id": b"\xff\xfe", "message_id": "m",
                     "application_headers": {"h": [1]}, "timestamp": 7}
    install()
    install()  # once is enough; twice changes nothing
    decode = serialization.PROPERTY_CLASSES[spec.Basic.CLASS_ID]
    assert decode(raw, 0) == (props, end)
    good = amqp.Message(b"", content_type="a", priority=3)._serialize_properties()
    assert decode(good, 0) == original(good, 0)
