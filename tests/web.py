"""The real FastAPI app over a real database, driven in-process (no network needed)."""

from __future__ import annotations

import contextlib
import re

from fastapi.testclient import TestClient

from console.app import create_app
from console.deps import WebDeps
from workflow.adapters import accounts
from workflow.adapters.db import Database
from workflow.adapters.human_check import LocalVerifier
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.errors import AlreadyExists
from workflow.domain.policies import Policies
from workflow.service.ports import Clock, SystemClock

SECRET = b"test-secret-key-" * 3


def web_client(db: Database, clock: Clock | None = None,
               policies: Policies | None = None) -> TestClient:
    deps = WebDeps(db=db, clock=clock or SystemClock(), verifier=LocalVerifier(),
                   uow=lambda: SqlUnitOfWork(db), secret_key=SECRET,
                   policies=policies or Policies())
    return TestClient(create_app(deps))


def agent_headers(client: TestClient, db: Database, login: str) -> dict[str, str]:
    with contextlib.suppress(AlreadyExists):
        accounts.add_agent(db, login, f"{login}-password-123")
    r = client.post("/api/v1/auth/token", json={"login": login, "password": f"{login}-password-123"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def form_token(html: str) -> str:
    """The ``csrf_token`` hidden field of a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found[1]


def page_sign_in(client: TestClient, login: str, password: str) -> str:
    """Sign in through ``/signin`` as a browser does (the client keeps the cookies); returns
    the CSRF token the pages then carry."""
    r = client.post("/signin", data={"login": login, "password": password,
                                     "csrf_token": form_token(client.get("/signin").text)},
                    follow_redirects=False)
    assert (r.status_code, r.headers.get("location")) == (303, "/queue"), r.text[:500]
    return form_token(client.get("/queue").text)
