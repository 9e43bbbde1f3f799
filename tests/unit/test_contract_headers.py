"""Header limits of the HTTP binding: 64 KiB of headers in both modes (a 100 KiB header that is
not a ce-* attribute used to pass in structured mode), and ResetDesk's own x-resetdesk-* names
refused from producers; AMQP decoding still reads them (ResetDesk's replays carry one)."""

from __future__ import annotations

import json

import pytest

from schemas.errors import Code, ContractError
from schemas.registry import decode, decode_amqp
from schemas.sample import sample_request

STRUCTURED = {"content-type": "application/cloudevents+json"}


def _binary() -> tuple[dict[str, str], bytes]:
    event = sample_request()
    headers = {f"ce-{k}": str(v) for k, v in event.items() if k != "data"}
    return {"content-type": "application/json", **headers}, json.dumps(event["data"]).encode()


def test_a_100_kib_header_is_oversize_in_structured_mode() -> None:
    body = json.dumps(sample_request()).encode()
    assert decode(STRUCTURED, body).type  # the same event without it is fine
    with pytest.raises(ContractError) as err:
        decode({**STRUCTURED, "x-note": "a" * 100 * 1024}, body)
    assert err.value.code == Code.OVERSIZE


def test_a_100_kib_header_is_oversize_in_binary_mode() -> None:
    headers, body = _binary()
    with pytest.raises(ContractError) as err:
        decode({**headers, "x-note": "a" * 100 * 1024}, body)
    assert err.value.code == Code.OVERSIZE


@pytest.mark.parametrize("name", ["x-resetdesk-replay-of", "X-ResetDesk-Reason"])
def test_reserved_headers_are_refused_in_both_modes(name: str) -> None:
    body = json.dumps(sample_request()).encode()
    with pytest.raises(ContractError) as err:
        decode({**STRUCTURED, name: "7"}, body)
    assert err.value.code == Code.RESERVED_HEADER and err.value.path == name.lower()
    headers, data = _binary()
    with pytest.raises(ContractError) as err:
        decode({**headers, name: "7"}, data)
    assert err.value.code == Code.RESERVED_HEADER


def test_amqp_decoding_leaves_resetdesks_own_headers_to_the_consumer() -> None:
    body = json.dumps(sample_request()).encode()
    event = decode_amqp({"x-resetdesk-replay-of": 7}, body, "application/cloudevents+json")
    assert event.type
