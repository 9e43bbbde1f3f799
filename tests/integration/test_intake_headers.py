"""POST /events and its headers, on the real app over SQLite: a reserved x-resetdesk-* header
is a 400 ``reserved_header``, and headers over 64 KiB are a 413 in structured mode too (a
100 KiB header used to be accepted), including one split into many repeats."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from schemas.sample import SAMPLE_SOURCE, sample_request
from tests.web import web_client
from workflow.adapters import accounts
from workflow.adapters.db import Database, open_database


@pytest.fixture
def intake(sqlite_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    db: Database = open_database(sqlite_url)
    token = accounts.add_producer(db, "forms", SAMPLE_SOURCE)
    yield web_client(db), {"Authorization": f"Bearer {token}",
                           "Content-Type": "application/cloudevents+json"}
    db.dispose()


def test_a_reserved_header_is_refused(intake: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = intake
    event = sample_request()
    r = client.post("/events", content=json.dumps(event),
                    headers={**auth, "X-ResetDesk-Replay-Of": "42"})
    assert r.status_code == 400 and r.json()["error"] == "reserved_header", r.text
    binary = {k: v for k, v in auth.items() if k != "Content-Type"}
    binary.update({f"ce-{k}": str(v) for k, v in event.items() if k != "data"})
    r = client.post("/events", content=json.dumps(event["data"]),
                    headers={**binary, "Content-Type": "application/json",
                             "x-resetdesk-reason": "forged"})
    assert r.status_code == 400 and r.json()["error"] == "reserved_header", r.text
    assert client.get(f"/events/{event['id']}", headers=auth).status_code == 404
    assert client.post("/events", content=json.dumps(event), headers=auth).status_code == 202


def test_a_100_kib_header_in_structured_mode_is_413(
        intake: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = intake
    event = sample_request()
    r = client.post("/events", content=json.dumps(event),
                    headers={**auth, "X-Note": "a" * 100 * 1024})
    assert r.status_code == 413 and r.json()["error"] == "oversize", r.text
    repeated = [*auth.items(), *[("x-note", "a" * 1024)] * 80]  # 80 KiB in repeats
    r = client.post("/events", content=json.dumps(event), headers=repeated)
    assert r.status_code == 413, r.text
    assert client.get(f"/events/{event['id']}", headers=auth).status_code == 404
