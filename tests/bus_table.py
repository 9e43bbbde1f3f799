"""Who may fire what, as a table generated from the transitions declaration.

:func:`rows` yields one :class:`Row` per (trigger, actor kind, entry): whether the declaration
lets that kind fire the trigger, and the entry through which an actor of that kind would try it
(``None``: no entry carries it). Staff entries come from the app's and the CLI's own routes and
commands; the customer's routes and the workers that act as ``system:<process>`` are named here
(each checked against the real app, queues and jobs). Every row with an entry is driven through
it by one table test (:func:`driven_by`: tests/integration/test_bus_table_customer.py,
…_workers.py, …_staff.py); tests/unit/test_bus_table.py checks that every declared pair has
an entry, so a move declared without one fails there first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from typer.testing import CliRunner

from workflow.domain.actors import Actor
from workflow.domain.errors import ActorRefused
from workflow.domain.states import ACTOR_KINDS, TRIGGERS, actors_of, command_of

#: the agents' generic move endpoint; the bus refuses there what the actor may not fire, and a
#: move that has its own command
GENERIC = "POST /api/v1/tickets/{ticket_id}/{trigger}"
GENERIC_CLI = "resetdesk tickets act"
#: a producer's only credential is its intake token: tried on the agents' API, it opens nothing
PRODUCER_TOKEN = "the agents' API with a producer's intake token"
#: a customer's only credential is a signed link: one signed for a move the customer may not
#: make is refused by every link route
CUSTOMER_LINKS = "every customer link route, with a link signed for the trigger"
STAFF = ("agent", "supervisor")

#: the customer's routes, by the move each fires (tests/unit/test_bus_table.py checks that each
#: is a route of the app, and that the customer may fire each move named here)
CUSTOMER_ROUTES: dict[str, tuple[str, ...]] = {
    "resolve": ("POST /customer/key/confirm/{token}", "POST /api/v1/customer/key/confirm/{token}"),
    "key_failed": ("POST /customer/key/report/{token}",
                   "POST /api/v1/customer/key/report/{token}"),
    **{trigger: ("POST /customer/callback/{token}", "POST /api/v1/customer/callback/{token}")
       for trigger in ("request_callback", "move_callback", "book_callback")},
    "start_remote_session": ("POST /api/v1/customer/session/agree",),
    "end_remote_session": ("POST /api/v1/customer/session/end",),
}

#: the customer's POST routes that make no move (a code check, a keep-alive, a step's answer)
NO_MOVE_CUSTOMER_ROUTES = frozenset({
    "POST /api/v1/customer/session/verify", "POST /api/v1/customer/session/ping",
    "POST /api/v1/customer/session/steps/{step_id}"})


@dataclass(frozen=True)
class SystemEntry:
    """A part that makes moves on its own, as ``system:<process>``."""

    #: ``embedded`` (in-process worker threads on SQLite), ``amqp`` (a RabbitMQ consumer) or
    #: ``scheduler`` (a leader job; it runs in both modes)
    mode: str
    #: the subscriber, consumer queue or leader job
    part: str
    #: the actor it acts as: ``system:<process>``
    process: str

    def __str__(self) -> str:
        return f"{self.mode}:{self.part}"


def _workers(part: str, process: str) -> tuple[SystemEntry, ...]:
    return SystemEntry("embedded", part, process), SystemEntry("amqp", part, process)


#: the parts that carry the moves the declaration gives to ``system``, by trigger
SYSTEM_ENTRIES: dict[str, tuple[SystemEntry, ...]] = {
    **{trigger: _workers("verification", "verification")
       for trigger in ("verify", "reject", "mark_duplicate", "enqueue")},
    "request_callback": _workers("escalation", "escalation"),
    "end_remote_session": (SystemEntry("scheduler", "remote-session-idle", "scheduler"),),
    "abandon": (SystemEntry("scheduler", "reset-key-silence", "key-jobs"),),
}

Entry = str | SystemEntry


@dataclass(frozen=True)
class Row:
    trigger: str
    kind: str
    allowed: bool
    entry: Entry | None

    @property
    def id(self) -> str:
        return f"{self.trigger}-{self.kind}-{self.entry}"


def declared(trigger: str, kind: str) -> bool:
    """The declaration names ``kind`` (or one ``kind:<name>``) among the trigger's actors."""
    return any(a.partition(":")[0] == kind for a in actors_of(trigger))


@cache
def app_routes() -> frozenset[str]:
    """``METHOD /path`` of every route of the one web app."""
    from console.app import create_app
    from console.deps import WebDeps

    found: set[str] = set()

    def walk(routes: Any, prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.update(f"{method} {prefix}{route.path}" for method in route.methods or ())
            elif hasattr(route, "original_router"):  # FastAPI >= 0.16x includes lazily
                walk(route.original_router.routes, prefix + route.include_context.prefix)

    walk(create_app(cast(WebDeps, None)).routes, "")  # routes only: nothing is served
    return frozenset(found)


@cache
def cli_commands() -> frozenset[str]:
    """Every ``resetdesk`` command, as typed (``tickets send-key``)."""
    import typer
    import typer.main

    from resetdesk.cli import app

    found: set[str] = set()

    def walk(command: Any, prefix: str) -> None:
        found.add(prefix.strip())
        if hasattr(command, "list_commands"):  # a group (typer vendors its own click)
            ctx = typer.Context(command)
            for name in command.list_commands(ctx):  # lazy commands load as they are asked for
                walk(command.get_command(ctx, name), f"{prefix} {name}")

    walk(typer.main.get_command(app), "")
    return frozenset(found - {""})


def staff_http(trigger: str, allowed: bool, kind: str = "agent") -> str | None:
    """The move's own endpoint; else the generic one, unless the move has a dedicated command
    for ``kind`` (then nothing carries it for staff, though the generic endpoint still refuses
    it)."""
    own = f"POST /api/v1/tickets/{{ticket_id}}/{trigger}"
    if own in app_routes():
        return own
    return GENERIC if command_of(trigger, kind) is None or not allowed else None


def staff_cli(trigger: str, allowed: bool, kind: str = "agent") -> str | None:
    """The move's own command; else ``tickets act``, with the same proviso as the HTTP side."""
    command = command_of(trigger, kind) if allowed else command_of(trigger)
    if command in cli_commands():
        return f"resetdesk {command}"
    return GENERIC_CLI if command is None or not allowed else None


def _entries(trigger: str, kind: str) -> Iterator[tuple[Entry | None, bool]]:
    allowed = declared(trigger, kind)
    if kind in STAFF:
        yield staff_http(trigger, allowed, kind), allowed
        yield staff_cli(trigger, allowed, kind), allowed
    elif kind == "customer":
        routes = CUSTOMER_ROUTES.get(trigger, ())
        yield from ((route, allowed) for route in routes)
        if not routes:
            yield (None if allowed else CUSTOMER_LINKS), allowed
    elif kind == "producer":
        yield (None if allowed else PRODUCER_TOKEN), allowed
    else:
        parts = SYSTEM_ENTRIES.get(trigger, ())
        yield from ((part, Actor("system", part.process).matches(actors_of(trigger)))
                    for part in parts)
        if not parts:
            yield None, allowed


def rows() -> Iterator[Row]:
    """Every (trigger, actor kind, entry) of the declaration; a pair no entry carries comes once
    with ``entry`` None."""
    for trigger in TRIGGERS:
        for kind in ACTOR_KINDS:
            seen: set[Entry | None] = set()
            for entry, allowed in _entries(trigger, kind):
                if entry not in seen:
                    seen.add(entry)
                    yield Row(trigger, kind, allowed, entry)


def driven_by(row: Row) -> str:
    """Which table test drives the row: ``customer`` (the customer's moves, and every
    customer row), ``staff`` (the moves staff are given, also beside the system: ``reject``,
    ``abandon``; and staff's refusals of the moves only staff or nobody else are given) or
    ``workers`` (the system's parts, and the other kinds' rows for the system's and the
    producer's moves)."""
    if row.kind == "customer" or (declared(row.trigger, "customer") and row.kind != "system"):
        return "customer"
    if row.kind in STAFF and (row.allowed or not declared(row.trigger, "system")):
        return "staff"
    return "workers"


def rows_for(test: str) -> list[Row]:
    """The rows ``test`` drives: those with an entry (the others are the completeness
    check's)."""
    return [r for r in rows() if r.entry is not None and driven_by(r) == test]


#: what the triggers' own endpoints need besides the ticket
STAFF_BODIES: dict[str, dict[str, Any]] = {
    "end_remote_session": {"reason": "bus table"}, "reassign": {"to": "alice"},
    "move_callback": {"reason": "bus table"},
    "reply": {"message": "hello"}, "callback_result": {"result": "answered"},
    "send_key": {"kind": "security_codes", "text": "2027-01-08 4711-0815-2342"},
    "reject": {"outcome": "rejected-attestation", "reason": "bus table: not the owner"},
}
#: what the triggers' own CLI commands need besides ``TICKET --as LOGIN``
STAFF_CLI_ARGS: dict[str, list[str]] = {
    "end_remote_session": ["--reason", "bus table"], "reassign": ["--to", "alice"],
    "move_callback": ["--reason", "bus table"],
    "reply": ["--message", "hello"], "callback_result": ["answered"],
    "send_key": ["--kind", "security_codes", "--text", "2027-01-08 4711-0815-2342"],
    "reject": ["--outcome", "rejected-attestation", "--reason", "bus table: not the owner"],
}


def staff_http_path(entry: str, trigger: str, ticket_id: str) -> str:
    return entry.removeprefix("POST ").format(ticket_id=ticket_id, trigger=trigger)


def staff_cli_args(entry: str, trigger: str, ticket_id: str, login: str) -> list[str]:
    words = entry.removeprefix("resetdesk ").split()
    if entry == GENERIC_CLI:
        return [*words, ticket_id, trigger, "--as", login]
    return [*words, ticket_id, *STAFF_CLI_ARGS.get(trigger, []), "--as", login]


def refusal(trigger: str, actor: str) -> str:
    """What the bus says when ``actor`` (``agent:sam``) may not fire ``trigger``."""
    return str(ActorRefused(trigger, actor, actors_of(trigger)))


def assert_refused(r: Response, trigger: str, actor: str) -> None:
    """The HTTP answer to a move the declaration does not give this actor: 403, the bus's
    message and the declared actors."""
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["reason"] == refusal(trigger, actor), body
    assert body["allowed_actors"] == list(actors_of(trigger)), body


def staff_try(client: TestClient, headers: dict[str, str], login: str, row: Row,
              ticket_id: str) -> tuple[bool, str]:
    """A staff member (``login``, of ``row.kind``) fires the row's move through the row's entry
    (HTTP with ``headers``, or the CLI in-process, configured by the environment): whether it
    went through, and what was answered. A move the row does not allow must be refused with
    the bus's message."""
    entry, actor = str(row.entry), f"{row.kind}:{login}"
    if entry.startswith("POST "):
        r = client.post(staff_http_path(entry, row.trigger, ticket_id),
                        json=STAFF_BODIES.get(row.trigger, {}), headers=headers)
        if not row.allowed:
            assert_refused(r, row.trigger, actor)
        return r.status_code in (200, 201), r.text
    from resetdesk.cli import app as cli

    result = CliRunner().invoke(cli, staff_cli_args(entry, row.trigger, ticket_id, login))
    if not row.allowed:
        assert result.exit_code == 1, result.output
        assert refusal(row.trigger, actor) in result.output, result.output
    return result.exit_code == 0, result.output
