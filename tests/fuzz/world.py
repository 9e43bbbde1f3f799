"""The app the HTTP fuzz drives, in-process on SQLite, and the genuine things inside it: a signed-in
agent, a producer, tickets in each resolution path, and validly signed customer links.

``fuzz_app`` is the one place the app is built, so one setting there (``throttle``) switches off
whatever throttling the app gains: a fuzz that meets 429s learns nothing about the routes.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from console.app import create_app
from console.deps import WebDeps
from schemas.sample import sample_request
from tests.factories import make_ticket
from tests.web import SECRET, agent_headers
from workflow.adapters import accounts, links
from workflow.adapters.db import Database
from workflow.adapters.human_check import LocalVerifier
from workflow.adapters.sla_book import default_book
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.policies import Policies
from workflow.domain.states import State
from workflow.domain.throttle import ThrottleLimits
from workflow.service.handlers import sync_sla
from workflow.service.ports import Clock

#: Tuesday 09:00 in Los Angeles: inside business hours, so callback slots exist
T0 = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
LINK_ACTIONS = ("request_callback", "move_callback", "confirm_key", "report_key", "get_key")
_serial = itertools.count()


@dataclass
class FixedClock(Clock):
    at: datetime

    def now(self) -> datetime:
        return self.at


def fuzz_app(db: Database | None, clock: Clock | None = None, *,
             throttle: bool = False) -> FastAPI:
    """The production app (``create_app``, every router) over ``db``. ``throttle`` is the app's
    ``throttle.enabled`` setting: the fuzz runs with throttles off, and counts any 429 as no
    coverage."""
    deps = WebDeps(db=cast(Database, db), clock=clock or FixedClock(T0), verifier=LocalVerifier(),
                   uow=lambda: SqlUnitOfWork(cast(Database, db)), secret_key=SECRET,
                   public_url="https://support.example",
                   policies=Policies(throttle=ThrottleLimits(enabled=throttle)))
    return create_app(deps)


@dataclass
class World:
    """Genuine values the strategies draw from (alongside garbage)."""

    client: TestClient
    agent: dict[str, str]
    producer: dict[str, str]
    ticket_ids: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    session_tokens: list[str] = field(default_factory=list)
    consent_tokens: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    slots: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    terms_versions: list[str] = field(default_factory=list)


def _ticket(db: Database, state: State = State.QUEUED) -> tuple[str, str]:
    t = make_ticket(state, assignee="alice", language="fr" if next(_serial) % 2 else "en",
                    created_at=T0, updated_at=T0, accepted_at=T0,
                    data={"requester": {"name": "Fuzz Person", "email": "fuzz@example.com"}})
    sync_sla(default_book(), t, T0)
    with SqlUnitOfWork(db) as uow:
        uow.tickets.add(t)
        uow.commit()
    return t.id, t.reference


def _link_tokens(ticket_id: str) -> list[str]:
    """Genuine links of every action, one expired, one tampered, one for a ticket that is gone."""
    good = [links.sign(SECRET, ticket_id, a, T0 + timedelta(days=3)) for a in LINK_ACTIONS]
    expired = links.sign(SECRET, ticket_id, "request_callback", T0 - timedelta(seconds=1))
    gone = links.sign(SECRET, "0" * 32, "move_callback", T0 + timedelta(days=3))
    return [*good, expired, good[0][:-3] + "AAA", gone]


def sign_in(db: Database, client: TestClient) -> dict[str, str]:
    """The agent's bearer header (argon2 is slow on purpose: once per module)."""
    return agent_headers(client, db, "alice")


def build_world(db: Database, client: TestClient, agent: dict[str, str],
                producer: dict[str, str]) -> World:
    """Fresh tickets on every path (queued, key sent, callback booked, session running)."""
    w = World(client, agent, producer)
    for _ in range(3):
        tid, ref = _ticket(db)
        w.ticket_ids.append(tid)
        w.references.append(ref)
        w.tokens += _link_tokens(tid)
    keyed, booked, session = w.ticket_ids
    r = client.post(f"/api/v1/tickets/{keyed}/send_key", headers=w.agent,
                    json={"kind": "security_codes", "text": "11111 22222 33333"})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/tickets/{booked}/request_callback", headers=w.agent, json={})
    assert r.status_code == 200, r.text
    shown = client.get(f"/customer/callback/{w.tokens[1]}?format=json").json()
    w.slots = [s["start"] for s in shown["slots"]][:5]
    r = client.post(f"/api/v1/tickets/{session}/offer_remote_session", headers=w.agent, json={})
    assert r.status_code == 201, r.text
    w.codes.append(r.json()["code"])
    ref = w.references[2]
    terms = client.post("/api/v1/customer/session/verify",
                        json={"reference": ref, "code": w.codes[0]}).json()
    w.consent_tokens.append(terms["consent_token"])
    w.terms_versions.append(terms["terms"]["version"])
    r = client.post("/api/v1/customer/session/agree", json={
        "consent_token": terms["consent_token"], "terms_version": terms["terms"]["version"]})
    assert r.status_code == 200, r.text
    w.session_tokens.append(r.json()["session_token"])
    client.post(f"/api/v1/tickets/{session}/session/steps", headers=w.agent,
                json={"kind": "network", "description": "open port 443"})
    event = sample_request()
    event["source"] = "urn:fuzz"
    r = client.post("/events", content=json.dumps(event).encode(),
                    headers={**producer, "Content-Type": "application/cloudevents+json"})
    assert r.status_code == 202, r.text
    w.event_ids.append(event["id"])
    return w


def add_producer(db: Database) -> dict[str, str]:
    return {"Authorization": f"Bearer {accounts.add_producer(db, 'fuzz', 'urn:fuzz')}"}


def routes(app: FastAPI) -> list[Any]:
    """``app.routes`` flattened through included routers, as FastAPI's OpenAPI reads them."""
    return list(iter_route_contexts(app.routes))


def operations(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers."""
    ops = []
    for route in routes(app):
        ops += [(m, str(route.path)) for m in sorted(route.methods or {"GET"}) if m != "HEAD"]
    return sorted(set(ops))


def path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)(?::\w+)?}", path)
