"""`resetdesk up` end to end: SDK-sent requests become tickets, customers get email."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.requests import LOCAL_SOURCE, request, unique_serial
from tests.e2e.running import RunningDesk
from tests.smtp_sink import SmtpSink
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpSink) -> Iterator[RunningDesk]:
    running = RunningDesk(tmp_path_factory.mktemp("desk"), smtp_port=smtp.port).start()
    yield running
    running.stop()


def _mail_for(smtp: SmtpSink, reference: str, timeout: float = 20) -> list:  # type: ignore[type-arg]
    return wait_for(f"an email that mentions {reference}", lambda: [  # type: ignore[no-any-return]
        m for m in smtp.messages if reference in m["Subject"] or reference in m.get_content()],
        timeout)


@pytest.mark.parametrize("mode", ["structured", "binary"])
def test_sdk_sent_request_becomes_a_queued_ticket_and_an_acknowledgement(
        desk: RunningDesk, smtp: SmtpSink, mode: str) -> None:
    event = request()
    response = desk.post(event, mode=mode)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["reference"].startswith("RD-") and body["status_url"] == f"/events/{event['id']}"
    status = desk.wait_processed(event["id"])
    assert status["status"] == "done"
    assert status["ticket"] == {"reference": body["reference"], "state": "queued", "outcome": None}
    ticket = desk.cli("tickets", "show", body["reference"], "--json")
    assert [(h["trigger"], h["to"]) for h in ticket["history"]] == [
        ("submit", "submitted"), ("verify", "verified"), ("enqueue", "queued")]
    assert ticket["history"][0]["actor"] == "producer:local"
    assert "human_check_token" not in json.dumps(ticket["data"])
    [mail] = _mail_for(smtp, body["reference"])
    assert mail["To"].addresses[0].addr_spec == "dana.whitfield@example.com"
    assert mail["Content-Language"] == "en"
    body = mail.get_content()
    assert "reply by" in body and ("PST" in body or "PDT" in body)  # the promise, Pacific time


CASES = [
    ("rejected-region", {"data__requester__country": "DE"}, "en"),
    ("rejected-method", {"data__device__model_number": "DS-7208HUHI-F2/N",
                         "data__reset_method": "local_gui",
                         "data__device__serial_number": unique_serial("DS-7208HUHI-F2/N")}, "en"),
    ("rejected-serial", {"data__reset_method": "local_gui",
                         "data__device__serial_number": unique_serial("DS-7616NI-I2/16P")}, "fr"),
    ("rejected-attestation", {"data__attestation__on_site_or_network": False}, "fr"),
    ("rejected-human-check", {"data__human_check_token": "fail-bot"}, "en"),
]


@pytest.mark.parametrize(("outcome", "overrides", "language"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_rejection_closes_with_its_outcome_and_an_email_in_the_customers_language(
        desk: RunningDesk, smtp: SmtpSink, outcome: str, overrides: dict, language: str) -> None:  # type: ignore[type-arg]
    overrides = {**overrides, "data__requester__language": language}
    event = request(**overrides)
    response = desk.post(event)
    assert response.status_code == 202, response.text
    status = desk.wait_processed(event["id"])
    assert status["ticket"]["state"] == "closed"
    assert status["ticket"]["outcome"] == outcome
    [mail] = _mail_for(smtp, status["reference"])
    assert mail["Content-Language"] == language


def test_second_open_request_for_a_serial_is_closed_duplicate_and_linked(desk: RunningDesk) -> None:
    serial = unique_serial()
    first, second = request(data__device__serial_number=serial), request(
        data__device__serial_number=serial)
    assert desk.post(first).status_code == 202
    assert desk.wait_processed(first["id"])["ticket"]["state"] == "queued"
    assert desk.post(second).status_code == 202
    dup = desk.wait_processed(second["id"])
    assert dup["ticket"]["outcome"] == "duplicate"
    shown = desk.cli("tickets", "show", dup["reference"], "--json")
    original = desk.cli("tickets", "show", desk.status(first["id"])["reference"], "--json")
    assert shown["linked_ticket_id"] == original["id"]


def test_replay_is_answered_the_same_and_makes_no_second_ticket(desk: RunningDesk) -> None:
    event = request()
    first = desk.post(event)
    again = desk.post(event, mode="binary")
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == again.json()
    desk.wait_processed(event["id"])
    desk.post(event)
    listed = desk.cli("tickets", "list", "--json", "--limit", "10000")
    assert [t["reference"] for t in listed].count(first.json()["reference"]) == 1


def test_same_id_with_different_content_is_a_conflict(desk: RunningDesk) -> None:
    event = request()
    assert desk.post(event).status_code == 202
    changed = dict(event, data={**event["data"], "note": "something else"})
    response = desk.post(changed)
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


def test_unknown_token_is_401_and_foreign_source_is_403(desk: RunningDesk) -> None:
    assert desk.post(request(), token="rdp_nope").status_code == 401
    response = desk.post(request(source="urn:someone:else"))
    assert response.status_code == 403
    assert LOCAL_SOURCE in response.json()["reason"]


def test_refusals_name_their_reason(desk: RunningDesk) -> None:
    auth = {"Authorization": f"Bearer {desk.token}"}
    bad = request(data__requester__email="not-an-email")
    r = httpx.post(desk.base + "/events", content=json.dumps(bad), timeout=10,
                   headers={**auth, "content-type": "application/cloudevents+json"})
    assert r.status_code == 400 and r.json()["path"] == "data.requester.email"
    r = httpx.post(desk.base + "/events", content=b"x" * (2 * 1024 * 1024 + 1), timeout=30,
                   headers={**auth, "content-type": "application/cloudevents+json"})
    assert r.status_code == 413
    r = httpx.post(desk.base + "/events", content=b"hello", timeout=10,
                   headers={**auth, "content-type": "text/plain", "ce-specversion": "1.0",
                            "ce-id": "x", "ce-source": LOCAL_SOURCE,
                            "ce-type": "com.resetdesk.request.submitted.v1"})
    assert r.status_code == 415
    r = httpx.post(desk.base + "/events", content=json.dumps(request(
        type="com.resetdesk.request.submitted.v9")), timeout=10,
        headers={**auth, "content-type": "application/cloudevents+json"})
    assert r.status_code == 400 and r.json()["error"] == "unknown_version"


def test_status_of_an_unknown_event_is_404(desk: RunningDesk) -> None:
    r = httpx.get(desk.base + "/events/never-sent",
                  headers={"Authorization": f"Bearer {desk.token}"}, timeout=10)
    assert r.status_code == 404


def test_export_attachment_is_kept_with_the_ticket(desk: RunningDesk, tmp_path: Path) -> None:
    from schemas.sample import sample_export

    event = request(data__export=sample_export("qr_photo"))
    assert desk.post(event).status_code == 202
    status = desk.wait_processed(event["id"])
    shown = desk.cli("tickets", "show", status["reference"], "--json")
    assert shown["data"]["export"] == {"kind": "qr_photo", "media_type": "image/png",
                                       "filename": "qr.png"}
    import base64
    import sqlite3

    with sqlite3.connect(desk.data_dir / "resetdesk.db") as conn:
        [(media, content)] = conn.execute("SELECT media_type, content FROM attachment WHERE "
                                          "ticket_id = ?", (shown["id"],)).fetchall()
    assert media == "image/png"
    assert content == base64.b64decode(event["data"]["export"]["content_base64"])
