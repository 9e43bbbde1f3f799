"""The CLI's edges on a real SQLite file: no database, SLA in words, dlq spellings, fresh serials."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resetdesk.cli import app
from tests.factories import make_ticket
from workflow.adapters import dead_letters, migrate
from workflow.adapters.db import open_database
from workflow.adapters.sla_book import build_book
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain import ticket_sla
from workflow.domain.states import State, WaitingOn

ROOT = Path(__file__).resolve().parents[2]
ALWAYS_OPEN = "[calendar]\ntimezone = \"UTC\"\n[hours]\n" + "\n".join(
    f'{d} = ["00:00-24:00"]' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")) + "\n"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the caller's shell; monkeypatch also restores what --data-dir sets."""
    for name in ("RESETDESK_DATA_DIR", "RESETDESK_DATABASE_URL", "RESETDESK_BROKER_URL",
                 "RESETDESK_SERVER__PUBLIC_URL", "RESETDESK_SLA__CALENDAR_PATH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated data directory on a calendar that is always open (SLA figures exact)."""
    calendar = tmp_path / "calendar.toml"
    calendar.write_text(ALWAYS_OPEN)
    monkeypatch.setenv("RESETDESK_SLA__CALENDAR_PATH", str(calendar))
    directory = tmp_path / "data"
    directory.mkdir()
    migrate.upgrade(f"sqlite:///{directory / 'resetdesk.db'}")
    return directory


@pytest.mark.parametrize("args", [["tickets", "list"], ["tickets", "show", "RD-AAAA-AAAA"],
                                  ["dlq", "list"], ["producers", "list"], ["db", "check"]])
def test_a_command_with_no_database_says_so_in_one_line_and_creates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1 and "no ResetDesk database" in result.output
    assert list(tmp_path.iterdir()) == []
    elsewhere = CliRunner().invoke(app, [*args, "--data-dir", str(tmp_path / "nowhere")])
    assert elsewhere.exit_code == 1 and "nowhere" in elsewhere.output
    assert list(tmp_path.iterdir()) == []


def test_an_empty_file_is_not_taken_for_a_database_nor_filled_in(tmp_path: Path) -> None:
    (tmp_path / "resetdesk.db").touch()
    out = subprocess.run([sys.executable, "-m", "resetdesk", "tickets", "list"], cwd=ROOT,
                         env={"PATH": "/usr/bin:/bin", "RESETDESK_DATA_DIR": str(tmp_path)},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "no tables" in out.stderr, out.stderr
    assert (tmp_path / "resetdesk.db").stat().st_size == 0


def _queued(data_dir: Path, *, accepted_ago: timedelta, waiting: bool = False) -> str:
    """A queued ticket whose clocks started ``accepted_ago`` (1 h first-reply budget)."""
    now = datetime.now(UTC)
    accepted = now - accepted_ago
    book = build_book(data_dir.parent / "calendar.toml")
    sla = ticket_sla.reconcile(None, state=State.QUEUED, waiting=False, replied=False, book=book,
                               at=accepted, accepted_at=accepted)
    waiting_on = None
    if waiting:
        sla = ticket_sla.reconcile(sla, state=State.QUEUED, waiting=True, replied=False,
                                   book=book, at=accepted + timedelta(minutes=10),
                                   accepted_at=accepted)
        waiting_on = WaitingOn.KEY_CONFIRMATION
    ticket = make_ticket(State.QUEUED, created_at=accepted, updated_at=accepted,
                         accepted_at=accepted, sla=sla, waiting_on=waiting_on)
    db = open_database(f"sqlite:///{data_dir / 'resetdesk.db'}")
    try:
        with SqlUnitOfWork(db) as uow:
            uow.tickets.add(ticket)
            uow.commit()
    finally:
        db.dispose()
    return ticket.reference


def test_list_flags_breached_and_at_risk_rows_and_show_tells_each_clock(data_dir: Path) -> None:
    breached = _queued(data_dir, accepted_ago=timedelta(hours=2))
    at_risk = _queued(data_dir, accepted_ago=timedelta(minutes=54))
    fine = _queued(data_dir, accepted_ago=timedelta(minutes=5))
    paused = _queued(data_dir, accepted_ago=timedelta(hours=3), waiting=True)
    listed = CliRunner().invoke(app, ["tickets", "list", "--data-dir", str(data_dir)])
    assert listed.exit_code == 0, listed.output
    rows = {line.split()[0]: line for line in listed.output.splitlines()[1:]}
    assert rows[breached].endswith("BREACHED") and rows[at_risk].endswith("AT RISK")
    assert not rows[fine].endswith(("BREACHED", "AT RISK"))
    assert not rows[paused].endswith(("BREACHED", "AT RISK"))
    as_json = CliRunner().invoke(app, ["--data-dir", str(data_dir), "tickets", "list", "--json"])
    flags = {t["reference"]: t["sla_flag"] for t in json.loads(as_json.output)}
    assert flags == {breached: "breached", at_risk: "at risk", fine: None, paused: None}

    shown = CliRunner().invoke(app, ["tickets", "show", breached, "--data-dir", str(data_dir)])
    assert shown.exit_code == 0, shown.output
    [first] = [ln for ln in shown.output.splitlines() if ln.strip().startswith("first reply")]
    assert "breached" in first and "UTC" in first and "(local " in first
    assert "business time over" in first and "1h 0" in first  # 2 h consumed of a 1 h budget
    [resolution] = [ln for ln in shown.output.splitlines() if ln.strip().startswith("resolution")]
    assert " ok " in resolution and "business time left" in resolution
    waiting = CliRunner().invoke(app, ["tickets", "show", paused, "--data-dir", str(data_dir)])
    [first] = [ln for ln in waiting.output.splitlines() if ln.strip().startswith("first reply")]
    assert "paused" in first and "0h 50m business time left when it resumes" in first


def test_dlq_discard_takes_reason_and_still_accepts_why(data_dir: Path) -> None:
    db = open_database(f"sqlite:///{data_dir / 'resetdesk.db'}")
    try:
        for body in (b"one", b"two"):
            assert dead_letters.archive(db, queue="verification", body=body, headers={},
                                        properties={}, reason="bad", content_type=None,
                                        event_type=None, message_id=None, dead_at=None,
                                        now=datetime.now(UTC))
        second, first = (r.id for r in dead_letters.list_dead_letters(db))
        base = ["dlq", "discard", "--as", "ops", "--data-dir", str(data_dir)]
        missing = CliRunner().invoke(app, [*base, str(first)])
        assert missing.exit_code == 1 and "--reason" in missing.output
        done = CliRunner().invoke(app, [*base, str(first), "--reason", "test data"])
        assert done.exit_code == 0, done.output
        old = CliRunner().invoke(app, [*base, str(second), "--why", "old spelling"])
        assert old.exit_code == 0, old.output
        assert dead_letters.show(db, first)["act_reason"] == "test data"
        assert dead_letters.show(db, second)["act_reason"] == "old spelling"
    finally:
        db.dispose()
    assert "--why" not in CliRunner().invoke(app, ["dlq", "discard", "--help"]).output


def test_publish_sample_makes_a_fresh_serial_unless_one_is_given() -> None:
    def serial(*extra: str) -> str:
        out = CliRunner().invoke(app, ["publish", "--sample", "--print", *extra])
        assert out.exit_code == 0, out.output
        return str(json.loads(out.output)["data"]["device"]["serial_number"])

    assert len({serial(), serial(), serial()}) == 3
    given = "DS-7608NI-I2/8P0820200115CCRR123456789WCVU"
    assert serial("--serial", given) == given == serial("--serial", "0820200115CCRR123456789WCVU")


@pytest.mark.parametrize(("broker", "said", "link"), [
    (None, "links in emails will point to http://127.0.0.1:8000", "http://127.0.0.1:8000/customer/"),
    ("amqp://guest:guest@127.0.0.1:1/none", "emails will go out without customer links", None)],
    ids=["embedded-derives", "production-never-guesses"])
def test_a_link_command_without_a_recorded_url_says_what_its_links_will_be(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch, broker: str | None, said: str,
        link: str | None) -> None:
    monkeypatch.setenv("RESETDESK_SECRET_KEY", "k" * 48)
    if broker:
        monkeypatch.setenv("RESETDESK_BROKER_URL", broker)
    reference = _queued(data_dir, accepted_ago=timedelta(minutes=5))
    added = CliRunner().invoke(app, ["agents", "add", "alice", "--password-stdin",
                                     "--data-dir", str(data_dir)], input="alice-password-1\n")
    assert added.exit_code == 0, added.output
    booked = CliRunner().invoke(app, ["tickets", "callback", reference, "--as", "alice",
                                      "--data-dir", str(data_dir)])
    assert booked.exit_code == 0, booked.output
    assert "warning: no RESETDESK_SERVER__PUBLIC_URL" in booked.stderr and said in booked.stderr
    db = open_database(f"sqlite:///{data_dir / 'resetdesk.db'}")
    try:
        with db.reader.begin() as conn:
            payloads = [row[0] for row in conn.exec_driver_sql("SELECT payload FROM outbox")]
    finally:
        db.dispose()
    mails = [p for p in payloads if "callback" in p]
    assert mails, payloads
    assert any(link in p for p in mails) if link else not any("/customer/" in p for p in mails)


def test_an_agent_moves_then_releases_a_callback_from_the_shell(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESETDESK_SECRET_KEY", "k" * 48)
    monkeypatch.setenv("RESETDESK_SERVER__PUBLIC_URL", "https://desk.example")
    reference = _queued(data_dir, accepted_ago=timedelta(minutes=5))
    at = ["--as", "alice", "--data-dir", str(data_dir)]
    CliRunner().invoke(app, ["agents", "add", "alice", "--password-stdin", "--data-dir",
                             str(data_dir)], input="alice-password-1\n")
    booked = CliRunner().invoke(app, ["tickets", "callback", reference, *at])
    assert booked.exit_code == 0, booked.output
    first = datetime.strptime(booked.stdout.split("; callback ")[1][:16], "%Y-%m-%d %H:%M")
    later = (first.replace(tzinfo=UTC) + timedelta(hours=2)).isoformat()
    moved = CliRunner().invoke(app, ["tickets", "move-callback", reference, "--slot", later, *at])
    assert moved.exit_code == 0, moved.output
    assert "move_callback -> awaiting-callback" in moved.stdout
    assert f"callback {later[:10]} {later[11:16]}Z" in moved.stdout
    unsaid = CliRunner().invoke(app, ["tickets", "move-callback", reference, *at])
    assert unsaid.exit_code != 0 and "say why the callback is released" in unsaid.stderr
    released = CliRunner().invoke(app, ["tickets", "move-callback", reference,
                                        "--reason", "line down", *at])
    assert released.exit_code == 0, released.output
    assert released.stdout.startswith(f"{reference}: move_callback -> awaiting-callback")
