"""``resetdesk agents …`` on a real database, checked through the HTTP side that signs agents in:
a disabled agent can neither sign in nor keep using a session, a new password ends the old
sessions, and enabling again does not bring an ended session back."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from resetdesk.cli import app
from tests.web import page_sign_in, web_client
from workflow.adapters.db import Database

PASSWORD = "ada-password-123"


def runner(url: str, monkeypatch: pytest.MonkeyPatch):
    for name in ("RESETDESK_DATA_DIR", "RESETDESK_BROKER_URL", "RESETDESK_SERVER__PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RESETDESK_DATABASE_URL", url)

    def run(*args: str, stdin: str | None = None, code: int = 0) -> str:
        result = CliRunner().invoke(app, ["agents", *args], input=stdin)
        assert result.exit_code == code, result.output
        return result.output
    return run


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch):
    """``resetdesk agents …`` on the test's database (SQLite, then PostgreSQL)."""
    return runner(db_url, monkeypatch)


@pytest.fixture
def sqlite_cli(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    """For what does not depend on the database (listing, argument checks): SQLite alone."""
    return runner(sqlite_url, monkeypatch)


def sign_in(client: TestClient, password: str = PASSWORD) -> int:
    answer = client.post("/api/v1/auth/token", json={"login": "ada", "password": password})
    return int(answer.status_code)


def bearer(client: TestClient, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"login": "ada", "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_list_shows_role_and_whether_enabled(sqlite_cli) -> None:
    cli = sqlite_cli
    cli("add", "ada", "--name", "Ada L.", "--password-stdin", stdin=PASSWORD + "\n")
    cli("add", "sam", "--role", "supervisor", "--password-stdin", stdin="sam-password-123\n")
    cli("disable", "ada")
    assert cli("list").splitlines() == ["ada\tagent\tdisabled\tAda L.", "sam\tsupervisor\tenabled\tsam"]
    listed = json.loads(cli("list", "--json"))
    assert [(a["login"], a["role"], a["enabled"]) for a in listed] == [
        ("ada", "agent", False), ("sam", "supervisor", True)]


def test_disable_refuses_sign_in_and_ends_sessions_enable_lets_them_sign_in_again(
        cli, db: Database) -> None:
    cli("add", "ada", "--password-stdin", stdin=PASSWORD + "\n")
    client = web_client(db)
    old = bearer(client)
    assert client.get("/api/v1/tickets", headers=old).status_code == 200
    cli("disable", "ada")
    assert client.get("/api/v1/tickets", headers=old).status_code == 401
    assert sign_in(client) == 401
    cli("enable", "ada")
    assert client.get("/api/v1/tickets", headers=old).status_code == 401  # stays ended
    assert client.get("/api/v1/tickets", headers=bearer(client)).status_code == 200


def test_a_disabled_agents_console_cookie_stops_working(cli, db: Database) -> None:
    cli("add", "ada", "--password-stdin", stdin=PASSWORD + "\n")
    client = web_client(db)
    page_sign_in(client, "ada", PASSWORD)
    assert client.get("/queue", follow_redirects=False).status_code == 200
    cli("disable", "ada")
    answer = client.get("/queue", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/signin?next=/queue")


def test_set_password_replaces_the_password_and_ends_sessions(cli, db: Database) -> None:
    cli("add", "ada", "--password-stdin", stdin=PASSWORD + "\n")
    client = web_client(db)
    old = bearer(client)
    cli("set-password", "ada", "--password-stdin", stdin="a-brand-new-secret\n")
    assert client.get("/api/v1/tickets", headers=old).status_code == 401
    assert sign_in(client) == 401
    assert sign_in(client, "a-brand-new-secret") == 200


def test_unknown_logins_short_passwords_and_bad_roles_are_refused(sqlite_cli) -> None:
    cli = sqlite_cli
    for command in (["disable", "nobody"], ["enable", "nobody"], ["role", "nobody", "agent"]):
        assert "no agent 'nobody'" in cli(*command, code=1)
    assert "no agent" in cli("set-password", "nobody", "--password-stdin",
                             stdin="long-enough-password\n", code=1)
    cli("add", "ada", "--password-stdin", stdin=PASSWORD + "\n")
    assert "at least 10 characters" in cli("set-password", "ada", "--password-stdin",
                                           stdin="short\n", code=1)
    assert "a role is agent or supervisor" in cli("role", "ada", "boss", code=1)
    assert "a role is agent or supervisor" in cli("add", "bob", "--role", "boss", code=1)
