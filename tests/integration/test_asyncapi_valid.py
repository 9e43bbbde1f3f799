"""docs/asyncapi.json is current, and valid against the official AsyncAPI 3.0 JSON Schema.

The schema comes from the npm package @asyncapi/specs, installed from the registry at test time
into a temporary directory once per run (nothing is committed), and is applied with Ajv by
tests/asyncapi_validate.mjs the way @asyncapi/parser applies it. Without npm or the registry the
validity tests skip locally and fail under RESETDESK_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from schemas import asyncapi, client
from schemas.events_v1 import EVENT_TYPES
from schemas.registry import INBOUND_TYPES, decode_structured
from tests import services

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "asyncapi_validate.mjs"
PACKAGES = ("@asyncapi/specs@6", "ajv@8", "ajv-formats@3")


@pytest.fixture(scope="session")
def specs_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose node_modules holds @asyncapi/specs, ajv and ajv-formats."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        services.unavailable("npm", "npm or node is not on PATH")
    prefix = tmp_path_factory.mktemp("asyncapi-specs")
    try:
        subprocess.run(
            [str(npm), "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--silent",
             *PACKAGES],
            capture_output=True, text=True, check=True, timeout=300,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = (getattr(exc, "stderr", None) or str(exc)).strip().splitlines()[-3:]
        services.unavailable("npm registry", " / ".join(detail))
    return prefix


def _validate(prefix: Path, document: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return subprocess.run(["node", str(SCRIPT), str(prefix), str(path)],
                          capture_output=True, text=True, timeout=120)


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(asyncapi.DOCUMENT.read_text(encoding="utf-8"))
    return document


def test_committed_asyncapi_document_is_current() -> None:
    assert asyncapi.DOCUMENT.read_text(encoding="utf-8") == asyncapi.text(), (
        "docs/asyncapi.json is stale: run `uv run python -m schemas.asyncapi`"
    )


def test_document_is_valid_against_the_official_asyncapi_3_schema(
    specs_prefix: Path, tmp_path: Path
) -> None:
    result = _validate(specs_prefix, _document(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["valid"] is True


def test_the_validator_rejects_a_broken_binding(specs_prefix: Path, tmp_path: Path) -> None:
    broken = copy.deepcopy(_document())
    broken["operations"]["send.request.submitted.v1"]["bindings"]["amqp"]["deliveryMode"] = 3
    result = _validate(specs_prefix, broken, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "deliveryMode" in result.stdout


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves_inside_the_document() -> None:
    document = _document()
    refs = _refs(document)
    assert refs and all(ref.startswith("#/") for ref in refs)
    for ref in refs:
        _resolve(document, ref)


def test_operations_only_name_messages_of_their_channel() -> None:
    document = _document()
    for name, operation in document["operations"].items():
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), name


def test_every_inbound_and_outgoing_type_has_a_channel_and_a_message() -> None:
    channels = _document()["channels"]
    addresses = {c["address"] for c in channels.values()}
    assert set(INBOUND_TYPES) | set(EVENT_TYPES) <= addresses
    requests = [c for c in channels.values() if c["address"] in INBOUND_TYPES]
    events = [c for c in channels.values() if c["address"] in EVENT_TYPES]
    assert {c["bindings"]["amqp"]["exchange"]["name"] for c in requests} == {"resetdesk.requests"}
    assert {c["bindings"]["amqp"]["exchange"]["name"] for c in events} == {"resetdesk.events"}
    assert channels["http.events"]["address"] == "/events"
    assert asyncapi.REQUESTS_EXCHANGE == client.REQUESTS_EXCHANGE


def test_the_documented_example_is_a_valid_request() -> None:
    document = _document()
    for message in document["components"]["messages"].values():
        for example in message.get("examples", []):
            decoded = decode_structured(json.dumps(example["payload"]).encode())
            assert decoded.type in INBOUND_TYPES
