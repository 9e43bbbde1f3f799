"""The console's sessions and CSRF rule over a real database, and the route table: every route
refuses an anonymous request unless it is listed below as public or as using a credential of its
own, and no change made with a session cookie goes through without its CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from console.app import create_app
from console.deps import WebDeps
from console.sessions import SESSION_COOKIE
from tests.factories import make_ticket
from tests.web import SECRET, agent_headers, form_token, page_sign_in, web_client
from workflow.adapters import accounts
from workflow.adapters.db import Database, open_database
from workflow.adapters.human_check import LocalVerifier
from workflow.adapters.tables_resolution import AGENT_SESSION
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.policies import Policies
from workflow.domain.states import State
from workflow.domain.throttle import ThrottleLimits, default_rules
from workflow.service.ports import SystemClock

PASSWORD = "ada-password-123"


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    """For what the database cannot change (routing, headers): SQLite alone, to save time."""
    database = open_database(sqlite_url)
    yield database
    database.dispose()
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: open to anyone, by design
PUBLIC = {("GET", "/"), ("GET", "/signin"), ("POST", "/signin"), ("GET", "/docs"),
          ("GET", "/openapi.json"), ("GET", "/healthz"), ("GET", "/static"),
          ("GET", "/favicon.ico"), ("GET", "/session")}
#: authenticated by a credential of their own, never by an agent's session: intake by the
#: producer's bearer token, customer pages and APIs by signed links or the session code
OWN_CREDENTIAL = {
    ("POST", "/events"), ("GET", "/events/{event_id}"),
    ("GET", "/customer/callback/{token}"), ("POST", "/customer/callback/{token}"),
    ("GET", "/api/v1/customer/callback/{token}"), ("POST", "/api/v1/customer/callback/{token}"),
    ("GET", "/customer/key/confirm/{token}"), ("POST", "/customer/key/confirm/{token}"),
    ("GET", "/customer/key/report/{token}"), ("POST", "/customer/key/report/{token}"),
    ("GET", "/customer/key/get/{token}"),
    ("POST", "/api/v1/customer/key/confirm/{token}"), ("POST", "/api/v1/customer/key/report/{token}"),
    ("POST", "/api/v1/customer/session/verify"), ("POST", "/api/v1/customer/session/agree"),
    ("GET", "/api/v1/customer/session"), ("POST", "/api/v1/customer/session/steps/{step_id}"),
    ("POST", "/api/v1/customer/session/ping"), ("POST", "/api/v1/customer/session/end"),
    ("POST", "/api/v1/auth/token"),  # the JSON sign-in: login and password are its credential
    ("POST", "/session"), ("POST", "/session/terms"), ("POST", "/session/agree"),
}
#: the customer's remote-session pages behind the session cookie: without it, back to the
#: code form (``/session``), never to the agents' sign-in
SESSION_PAGES = {("GET", "/session/live"), ("GET", "/session/status"), ("GET", "/session/end"),
                 ("GET", "/session/ended"), ("POST", "/session/end"),
                 ("POST", "/session/steps/{step_id}")}
#: a value for each path parameter (a new one must be added here, so its routes get checked)
PARAMS = {"key": "amqp:1", "ticket_id": "RD-AAAA-AAAA", "reference": "RD-AAAA-AAAA", "trigger": "claim",
          "token": "not-a-signed-link", "step_id": "1", "event_id": "00000000-0000-0000-0000-000000000000"}


def routes(client: TestClient) -> list[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        for method in route.methods or {"GET"}:  # a mount (static files) answers GET
            if method != "HEAD":
                found.add((method, str(route.path)))
    return sorted(found)


def url(path: str) -> str:
    def value(m: re.Match[str]) -> str:
        assert m[1] in PARAMS, f"give the path parameter {m[1]!r} a value in PARAMS"
        return PARAMS[m[1]]
    return "/static/console.css" if path == "/static" else re.sub(r"\{(\w+)\}", value, path)


def refused_as_anonymous(method: str, path: str, answer: Any) -> bool:
    """401 in the error shape (the API), or 303 to the sign-in page (the pages)."""
    if answer.status_code == 303:
        return str(answer.headers["location"]).startswith("/signin")
    return bool(answer.status_code == 401 and answer.json()["error"] == "unauthorized")


def test_every_route_refuses_an_anonymous_request_unless_listed(sqlite_db: Database) -> None:
    client = web_client(sqlite_db)
    table = routes(client)
    assert set(table) >= PUBLIC | OWN_CREDENTIAL, "a listed route no longer exists"
    checked = []
    for method, path in table:
        answer = client.request(method, url(path), follow_redirects=False)
        if (method, path) in PUBLIC:  # answers (/ sends to /signin, a bare POST is refused)
            assert answer.status_code < 500 and answer.status_code != 401, (method, path)
        elif (method, path) in OWN_CREDENTIAL:
            assert answer.status_code >= 400, (method, path, answer.status_code)
        elif (method, path) in SESSION_PAGES:
            assert (answer.status_code, answer.headers.get("location")) == (303, "/session"), \
                (method, path, answer.status_code)
        else:
            assert refused_as_anonymous(method, path, answer), (method, path, answer.text[:200])
            checked.append((method, path))
    assert ("GET", "/queue") in checked and ("POST", "/signout") in checked
    assert ("GET", "/ops") in checked and ("GET", "/ops/panel") in checked
    assert ("POST", "/api/v1/tickets/{ticket_id}/{trigger}") in checked


def test_no_change_made_with_a_session_cookie_goes_through_without_its_csrf_token(
        sqlite_db: Database) -> None:
    client = web_client(sqlite_db)
    accounts.add_agent(sqlite_db, "ada", PASSWORD)
    page_sign_in(client, "ada", PASSWORD)
    changes = [(m, p) for m, p in routes(client) if m in UNSAFE]
    assert len(changes) > 20
    for method, path in changes:
        answer = client.request(method, url(path), follow_redirects=False)
        if (method, path) in OWN_CREDENTIAL | PUBLIC:  # the cookie is no credential there
            assert answer.status_code >= 400, (method, path, answer.status_code)
        elif (method, path) in SESSION_PAGES:  # nor for the customer's session pages
            assert (answer.status_code, answer.headers.get("location")) == (303, "/session")
        else:
            assert answer.status_code == 403, (method, path, answer.status_code)
            assert answer.json() == {"error": "csrf", "reason": answer.json()["reason"]}
    # and the session is still there: nothing above signed it out
    assert client.get("/queue", follow_redirects=False).status_code == 200


def test_a_change_with_the_token_goes_through_and_a_wrong_token_does_not(db: Database) -> None:
    ticket = make_ticket(State.QUEUED)
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(ticket)
        uow.commit()
    client = web_client(db)
    accounts.add_agent(db, "ada", PASSWORD)
    csrf = page_sign_in(client, "ada", PASSWORD)
    claim = f"/api/v1/tickets/{ticket.id}/claim"
    # one hex digit off (a fixed "0" would be the token itself one time in 16)
    off = csrf[:-1] + ("1" if csrf.endswith("0") else "0")
    wrong = client.post(claim, json={}, headers={"X-CSRF-Token": off})
    assert (wrong.status_code, wrong.json()["error"]) == (403, "csrf")
    done = client.post(claim, json={}, headers={"X-CSRF-Token": csrf})  # as htmx sends it
    assert done.status_code == 200 and done.json()["assignee"] == "ada"
    # a bearer token carries no ambient authority: no CSRF token needed
    api = TestClient(client.app)
    note = api.post(f"/api/v1/tickets/{ticket.id}/notes", json={"body": "seen"},
                    headers=agent_headers(api, db, "ada"))
    assert note.status_code == 201
    # a form post carries it as a field; a browser is shown a page when refused
    refused = client.post("/signout", data={}, headers={"Accept": "text/html"},
                          follow_redirects=False)
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    out = client.post("/signout", data={"csrf_token": csrf}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/signin")


def sessions_of(db: Database, login: str) -> list[tuple[str, bool]]:
    with db.reader.begin() as conn:
        rows = conn.execute(select(AGENT_SESSION.c.token_hash, AGENT_SESSION.c.revoked_at)
                            .where(AGENT_SESSION.c.login == login)
                            .order_by(AGENT_SESSION.c.created_at))
        return [(r.token_hash, r.revoked_at is None) for r in rows]


def test_each_sign_in_opens_a_new_session_and_ends_the_one_the_browser_had(db: Database) -> None:
    client = web_client(db)
    accounts.add_agent(db, "ada", PASSWORD)
    # a fixation attempt: a session id planted in the browser before it signs in
    client.cookies.set(SESSION_COOKIE, "rda_planted-by-someone-else", domain="testserver.local")
    first_csrf = page_sign_in(client, "ada", PASSWORD)
    first = client.cookies[SESSION_COOKIE]
    assert first.startswith("rda_") and first != "rda_planted-by-someone-else"
    second_csrf = page_sign_in(client, "ada", PASSWORD)
    second = client.cookies[SESSION_COOKIE]
    assert second != first and second_csrf != first_csrf
    assert [live for _, live in sessions_of(db, "ada")] == [False, True]
    stale = TestClient(client.app, cookies={SESSION_COOKIE: first})
    assert stale.get("/queue", follow_redirects=False).status_code == 303
    # signing out ends the second one too
    client.post("/signout", data={"csrf_token": second_csrf})
    assert [live for _, live in sessions_of(db, "ada")] == [False, False]
    assert client.get("/queue", follow_redirects=False).headers["location"] == "/signin?next=/queue"


def test_the_session_cookie_is_httponly_samesite_and_secure_behind_https(sqlite_db: Database) -> None:
    accounts.add_agent(sqlite_db, "ada", PASSWORD)
    for public_url, secure in (("http://127.0.0.1:8000", False), ("https://desk.example", True)):
        deps = WebDeps(db=sqlite_db, clock=SystemClock(), verifier=LocalVerifier(),
                       uow=lambda: SqlUnitOfWork(sqlite_db), secret_key=SECRET, public_url=public_url)
        client = TestClient(create_app(deps), base_url="https://testserver")
        form = client.get("/signin")
        answer = client.post("/signin", data={"login": "ada", "password": PASSWORD,
                                              "csrf_token": form_token(form.text)},
                             follow_redirects=False)
        [cookie] = [c for c in answer.headers.get_list("set-cookie")
                    if c.startswith(SESSION_COOKIE + "=")]
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite", "path", "max-age"} <= attributes
        assert "samesite=lax" in cookie.lower()
        assert ("secure" in attributes) is secure


def test_a_sign_in_form_posted_from_elsewhere_is_refused(sqlite_db: Database) -> None:
    """Login CSRF: without the form's double-submit cookie, no session is opened."""
    accounts.add_agent(sqlite_db, "ada", PASSWORD)
    client = web_client(sqlite_db)
    answer = client.post("/signin", data={"login": "ada", "password": PASSWORD,
                                          "csrf_token": "guessed"}, follow_redirects=False)
    assert answer.status_code == 403 and "expired" in answer.text
    assert SESSION_COOKIE not in client.cookies and sessions_of(sqlite_db, "ada") == []


def test_wrong_passwords_are_throttled_on_the_page_as_on_the_api(db: Database) -> None:
    accounts.add_agent(db, "ada", PASSWORD)
    client = web_client(db, policies=Policies(throttle=ThrottleLimits(
        rules=default_rules(signin_failures_per_login=3))))
    statuses = []
    for _ in range(4):
        token = form_token(client.get("/signin").text)
        statuses.append(client.post("/signin", data={"login": "ada", "password": "wrong-one",
                                                     "csrf_token": token}).status_code)
    assert statuses == [401, 401, 401, 429]
    api = client.post("/api/v1/auth/token", json={"login": "ada", "password": PASSWORD})
    assert api.status_code == 429  # the same count: the right password waits too
