"""Every HTTP route, fuzzed: whatever the path, query, headers or body, the answer is below 500
and every refusal has the one error shape (``{"error", "reason", …}``; customer pages and the
agents' pages may answer an HTML page instead).

The routes come from ``app.routes``: a new route is fuzzed without touching this file, and
``test_every_route_is_fuzzed_or_excluded`` fails for a route the app serves that is neither
fuzzed nor excluded here with a reason. 10,000 examples in all, derandomised, on SQLite.
"""

from __future__ import annotations

import itertools
import math
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from console.app import PAGES
from tests.fuzz.strategies import FIELDS, Req, requests
from tests.fuzz.world import (
    World,
    add_producer,
    build_world,
    fuzz_app,
    operations,
    routes,
    sign_in,
)
from workflow.adapters import migrate
from workflow.adapters.db import Database, open_database

pytestmark = pytest.mark.fuzz

settings.register_profile(
    "http-fuzz", derandomize=True, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
TOTAL_EXAMPLES = int(os.environ.get("RESETDESK_FUZZ_EXAMPLES", "10000"))
#: (method, path) → why it is not fuzzed. Everything the app serves is fuzzed today.
EXCLUDED: dict[tuple[str, str], str] = {}
FUZZED = [op for op in operations(fuzz_app(None)) if op not in EXCLUDED]
PER_ROUTE = math.ceil(TOTAL_EXAMPLES * 1.02 / len(FUZZED))
#: statuses seen per route, for the total check at the end of the module
SEEN: dict[tuple[str, str], Counter[int]] = {}
#: one client address per route fuzzed, whether or not the route's fuzz passed (a failed route
#: must not hand its code-guessing lockout to the next route's genuine codes)
ADDRESSES = itertools.count(1)


@dataclass
class FuzzEnv:
    db: Database
    app: FastAPI
    client: TestClient
    agent: dict[str, str]
    producer: dict[str, str]

    def route_inputs(self, method: str, path: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Query parameter and body field names the route declares (any body: ``FIELDS``)."""
        for route in routes(self.app):
            dependant = getattr(route, "dependant", None)
            if dependant and route.path == path and method in (route.methods or ()):
                query = tuple(p.name for p in dependant.query_params)
                body: list[str] = []
                for p in dependant.body_params:
                    body += list(getattr(p.field_info.annotation, "model_fields", {}) or [p.name])
                return query, tuple(body) or FIELDS
        return (), FIELDS


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzEnv]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    migrate.upgrade(url)
    db = open_database(url)
    app = fuzz_app(db)  # throttles off: a 429 would hide the route behind it
    with TestClient(app, follow_redirects=False) as client:
        yield FuzzEnv(db, app, client, sign_in(db, client), add_producer(db))
    db.dispose()


def send(client: TestClient, req: Req) -> Any:
    headers = {k: v.encode("latin-1", "replace") for k, v in req.headers.items()}
    return client.request(req.method, req.path, params=req.params, headers=headers,
                          content=req.content, data=req.data, files=req.files)


def is_agent_page(path: str) -> bool:
    return any(isinstance(route, APIRoute) and route.path_regex.match(path.partition("?")[0])
               for router in PAGES for route in router.routes)


#: the customer's remote-session pages (``/session`` and below) answer in HTML too
SESSION_PAGES = frozenset({"/session"})


def check_answer(req: Req, r: Any) -> None:
    assert r.status_code < 500, f"{req.method} {req.path} {req} -> {r.status_code} {r.text[:300]}"
    if r.status_code < 400:
        return
    ctype = r.headers.get("content-type", "")
    if ctype.startswith("text/html"):
        customer_page = "/customer/" in req.path or req.path.partition("?")[0] in SESSION_PAGES \
            or req.path.startswith("/session/")
        assert customer_page or is_agent_page(req.path), \
            f"HTML error outside the customer and agent pages: {req}"
        return
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) \
        and isinstance(body.get("reason"), str), f"{req} -> {r.status_code} {body}"


def test_every_route_is_fuzzed_or_excluded(fuzz_env: FuzzEnv) -> None:
    served = set(operations(fuzz_env.app))
    assert served - set(FUZZED) - set(EXCLUDED) == set(), "fuzz or exclude (with a reason)"
    assert set(EXCLUDED) <= served, "stale exclusions"
    assert all(reason.strip() for reason in EXCLUDED.values())


@pytest.mark.parametrize("op", FUZZED, ids=[f"{m} {p}" for m, p in FUZZED])
def test_no_input_makes_a_route_fail(op: tuple[str, str], fuzz_env: FuzzEnv) -> None:
    method, path = op
    # each route from its own address: the code-guessing lockout of one route's fuzz must not
    # refuse the next route's genuine codes
    client = TestClient(fuzz_env.app, client=(f"198.51.100.{next(ADDRESSES) % 250 + 1}", 50000),
                        follow_redirects=False)
    world: World = build_world(fuzz_env.db, client, fuzz_env.agent, fuzz_env.producer)
    query, fields = fuzz_env.route_inputs(method, path)
    seen: Counter[int] = Counter()

    @settings(settings.get_profile("http-fuzz"), max_examples=PER_ROUTE)
    @given(requests(method, path, world, query, fields))
    def one(req: Req) -> None:
        r = send(client, req)
        seen[r.status_code] += 1
        check_answer(req, r)

    one()
    SEEN[op] = seen
    throttled = seen[429]
    assert throttled <= 0.1 * sum(seen.values()), f"{throttled} answers were 429: not coverage"


def test_the_fuzz_ran_its_budget() -> None:
    """Runs last in this module: 10,000 answers in all that were not 429 (throttled)."""
    if set(SEEN) != set(FUZZED):
        pytest.skip("only part of the fuzz ran")
    covered = sum(n for seen in SEEN.values() for status, n in seen.items() if status != 429)
    assert covered >= TOTAL_EXAMPLES, covered
