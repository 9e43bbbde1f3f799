"""The committed JSON Schema files are part of the contract and must match the models."""

from __future__ import annotations

import json

from schemas.events_v1 import EVENT_TYPES
from schemas.export import SCHEMA_DIR, render, stale
from schemas.registry import INBOUND_TYPES


def test_committed_json_schemas_are_up_to_date() -> None:
    assert stale() == [], "run: uv run python -m schemas.export"


def test_every_contract_has_a_schema_file() -> None:
    names = set(render())
    assert "cloudevents-envelope.json" in names
    assert {f"{t}.json" for t in {**INBOUND_TYPES, **EVENT_TYPES}} <= names


def test_rendering_is_deterministic_with_sorted_keys_and_trailing_newline() -> None:
    first, second = render(), render()
    assert first == second
    for text in first.values():
        assert text.endswith("}\n")
        assert json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n" == text


def test_the_request_schema_states_the_limits() -> None:
    schema = json.loads((SCHEMA_DIR / "com.resetdesk.request.submitted.v1.json").read_text())
    export = schema["$defs"]["Export"]["properties"]["content_base64"]
    assert export["maxLength"] == 1398104
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {"requester", "device", "reset_method", "attestation"}
