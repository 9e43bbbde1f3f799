"""The one logging setup: human and JSON lines, ticket and message ids from the context, and no
personal data or secret in any message, argument or traceback."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from resetdesk.logs import configure_logging, uvicorn_options
from resetdesk.masking import mask
from schemas.sample import SAMPLE_MODEL, full_serial, sample_request
from tests.e2e.requests import unique_serial
from workflow.adapters import credentials, links
from workflow.domain.session_codes import new_code
from workflow.logcontext import bind, current, log_context

EMAIL = "dana.whitfield@example.com"
PHONE = "+15035550147"
SERIAL = full_serial(SAMPLE_MODEL, "0820200115CCRR123456789WCVU")
MESSAGE_ID = "6f1d2c3e-0a7b-4c1e-9d2f-8b7a6c5d4e3f"
TICKET_ID = "3fa2b4c0e1d24f6a8b9c0d1e2f3a4b5c"


@dataclass
class LogSettings:
    format: str = "human"
    level: str = "INFO"
    access: bool = True


@pytest.fixture
def capture() -> Iterator[tuple[io.StringIO, list[logging.Handler]]]:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    out = io.StringIO()
    yield out, before
    for h in list(root.handlers):
        if h not in before:
            root.removeHandler(h)
    root.setLevel(level)
    logging.captureWarnings(False)


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


# --- masking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    (f"sent to {EMAIL}", "sent to d***@example.com"),
    ("reply to J.Doe+desk@mail.cascade-security.ca now", "reply to J***@mail.cascade-security.ca now"),
    (f"call {PHONE}", "call ***-***-0147"),
    ("call (503) 555-0147 or 503-555-0147 or 503.555.0147",
     "call ***-***-0147 or ***-***-0147 or ***-***-0147"),
    (f"serial {SERIAL} refused", "serial DS-7… refused"),
    ("device part 0820200115CCRR123456789WCVU", "device part 0820…"),
    ("DS-7208HUHI-F2/N0820160816CCRR123456789WCVU.", "DS-7…."),
    ("DS-2CD2032-I20160101CCWR123456789 camera", "DS-2… camera"),
    ("Authorization: Bearer rdp_Zx81kq0_-abcdefghijklmnop", "Authorization: ***"),
    ("token rda_0123456789abcdefABCDEF_- given", "token rda_*** given"),
    ("secret_key=s3cr3t-value!", "secret_key=***"),
    ("{'password': 'hunter2hunter2', 'serial_key': 'DS7608NII28P08'}",
     "{'password': '***', 'serial_key': '***'}"),
    ('{"name": "Dana Whitfield", "company": "Cascade \\"Security\\" LLC", "kind": "nvr"}',
     '{"name": "***", "company": "***", "kind": "nvr"}'),
    ("amqp://rd_consumer:pa55word@127.0.0.1:5672/vhost", "amqp://rd_consumer:***@127.0.0.1:5672/vhost"),
    ("GET /customer/key/eyJhbGciOiJIUzI1NiJ9abc.def HTTP/1.1", "GET /customer/key/*** HTTP/1.1"),
])
def test_personal_values_and_secrets_are_masked(text: str, expected: str) -> None:
    assert mask(text) == expected


def test_real_shaped_values_from_the_code_that_makes_them_are_masked() -> None:
    code, serial = new_code(), unique_serial()
    token = credentials.new_token()
    link = links.sign(b"k" * 32, TICKET_ID, "confirm", datetime.now(UTC) + timedelta(days=1))
    text = f"code {code} serial {serial} token {token} link {link} end"
    masked = mask(text)
    for secret in (code, serial, token, link):
        assert secret not in masked
    assert masked.startswith("code *****-*****") and "serial DS-7…" in masked
    assert masked.endswith(" end")


@pytest.mark.parametrize("text", [
    f"consumer verification: message {MESSAGE_ID} acked (applied) ticket {TICKET_ID}",
    "ticket RD-ABCD-EF23 queued at 2024-05-01 17:30:05.123, next tick in 5 s",
    "consumer verification: consuming (prefetch 10, heartbeat 60 s) on 127.0.0.1:5672",
    "POST /events HTTP/1.1 202; pid 12345; 1000000 rows; took 0.14 ms",
    "data.requester.email: value is not a valid email address",
    "full serial is incomplete or malformed",
    "model DS-7608NI-I2/8P is served; firmware V4.62.210 build 220607",
])
def test_ordinary_log_text_is_left_alone(text: str) -> None:
    assert mask(text) == text


def test_a_whole_request_is_masked_in_repr_and_json() -> None:
    event = sample_request()
    for text in (repr(event), json.dumps(event)):
        masked = mask(text)
        for value in (EMAIL, PHONE, SERIAL, "Dana Whitfield", "pass-sample-human-check"):
            assert value not in masked, value
        assert event["id"] in masked  # the message id stays readable


# --- context ------------------------------------------------------------------------------------


def test_scopes_nest_and_restore_and_bind_outside_a_scope_is_ignored() -> None:
    bind(ticket_id="stray")
    assert current() == (None, None)
    with log_context(message_id="m1"):
        bind(ticket_id="t1")
        with log_context(message_id="m2"):
            assert current() == ("t1", "m2")
            bind(ticket_id="t2")
        assert current() == ("t2", "m1"), "a ticket learnt inside a nested scope stays known"
    assert current() == (None, None), "the outer scope forgets everything"


def test_threads_do_not_share_a_scope() -> None:
    seen: list[tuple[str | None, str | None]] = []
    with log_context(ticket_id="main"):
        worker = threading.Thread(target=lambda: seen.append(current()))
        worker.start()
        worker.join(5)
    assert seen == [(None, None)]


# --- formats ------------------------------------------------------------------------------------


def test_human_lines_carry_the_message_text_then_the_ids(capture) -> None:
    out, _ = capture
    configure_logging(LogSettings(), "consume:verification", stream=out)
    log = logging.getLogger("consumers.amqp.consumer")
    log.info("consumer %s: connection lost (%s); reconnecting", "verification", "reset")
    with log_context(message_id=MESSAGE_ID):
        bind(ticket_id=TICKET_ID)
        log.warning("notification sent to %s", EMAIL)
    log.debug("not shown at INFO")
    first, second = lines(out)
    assert first.endswith(" INFO consumers.amqp.consumer: consumer verification: connection lost "
                          "(reset); reconnecting")
    assert second.endswith(f"WARNING consumers.amqp.consumer: notification sent to d***@example.com "
                           f"ticket={TICKET_ID} message={MESSAGE_ID}")


def test_json_lines_parse_one_object_each_with_ids_role_and_a_masked_traceback(capture) -> None:
    out, _ = capture
    configure_logging(LogSettings(format="json", level="debug"), "relay", stream=out)
    log = logging.getLogger("consumers.request_handling")
    log.debug("plain %d", 1)
    with log_context(message_id=MESSAGE_ID, ticket_id=TICKET_ID):
        try:
            raise ValueError(f"INSERT refused [parameters: {{'email': '{EMAIL}', "
                             f"'serial_key': '{SERIAL}', 'phone': '{PHONE}'}}]")
        except ValueError:
            log.exception("request %s failed", "RD-ABCD-EF23")
    entries = [json.loads(line) for line in lines(out)]
    assert [e["msg"] for e in entries] == ["plain 1", "request RD-ABCD-EF23 failed"]
    plain, failed = entries
    assert plain["ticket_id"] is None and plain["message_id"] is None and "exc" not in plain
    assert {k: failed[k] for k in ("level", "logger", "ticket_id", "message_id", "role")} == {
        "level": "ERROR", "logger": "consumers.request_handling", "ticket_id": TICKET_ID,
        "message_id": MESSAGE_ID, "role": "relay"}
    assert failed["ts"].endswith("Z") and isinstance(failed["pid"], int)
    assert "Traceback" in failed["exc"] and "d***@example.com" in failed["exc"]
    for value in (EMAIL, SERIAL, PHONE):
        assert value not in out.getvalue()


def test_configuring_again_replaces_the_handler_and_bad_settings_are_refused(capture) -> None:
    out, before = capture
    configure_logging(LogSettings(), "serve", stream=io.StringIO())
    configure_logging(LogSettings(format="JSON"), "serve", stream=out)
    assert len(logging.getLogger().handlers) == len(before) + 1
    logging.getLogger("x").warning("once")
    assert [json.loads(line)["msg"] for line in lines(out)] == ["once"]
    with pytest.raises(ValueError, match="LOGGING__FORMAT"):
        configure_logging(LogSettings(format="xml"), "serve", stream=out)
    with pytest.raises(ValueError, match="LOGGING__LEVEL"):
        configure_logging(LogSettings(level="loud"), "serve", stream=out)


def test_uvicorn_uses_our_handlers_and_the_access_log_follows_the_setting() -> None:
    assert uvicorn_options(LogSettings(level="WARNING", access=False)) == {
        "log_config": None, "log_level": "warning", "access_log": False}


def test_settings_read_the_environment(monkeypatch) -> None:
    from resetdesk.settings import load_settings

    monkeypatch.setenv("RESETDESK_LOGGING__FORMAT", "JSON")
    monkeypatch.setenv("RESETDESK_LOGGING__LEVEL", "debug")
    monkeypatch.setenv("RESETDESK_LOGGING__ACCESS", "false")
    s = load_settings().logging
    assert (s.format, s.level, s.access) == ("json", "DEBUG", False)


def test_each_http_request_has_its_own_scope_in_sync_and_async_routes(capture) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from console.log_scope import LogScope

    out, _ = capture
    configure_logging(LogSettings(format="json"), "serve", stream=out)
    log = logging.getLogger("console.test")
    app = FastAPI()
    app.add_middleware(LogScope)

    @app.get("/sync/{ticket_id}")
    def sync_route(ticket_id: str) -> dict[str, str | None]:
        bind(ticket_id=ticket_id)  # as the repository does when it loads the ticket
        log.info("sync")
        return {"seen": current()[0]}

    @app.get("/async")
    async def async_route() -> dict[str, str | None]:
        log.info("async")
        return {"seen": current()[0]}

    with TestClient(app) as client:
        assert client.get("/sync/t-1").json() == {"seen": "t-1"}
        assert client.get("/async").json() == {"seen": None}, "nothing left from the last request"
    assert [(e["msg"], e["ticket_id"]) for e in map(json.loads, lines(out))] == [
        ("sync", "t-1"), ("async", None)]
