"""The table of who may fire what (tests/bus_table.py) is complete: every move the declaration
lists has an entry that carries it for someone allowed, every declared (trigger, actor kind)
pair has one, and the entries the table names are real routes, commands and parts."""

from __future__ import annotations

from collections import Counter

import pytest

from consumers.escalation import EscalationHandler
from consumers.topology import CONSUMER_QUEUES
from tests.bus_table import (
    CUSTOMER_ROUTES,
    GENERIC,
    GENERIC_CLI,
    SYSTEM_ENTRIES,
    app_routes,
    cli_commands,
    declared,
    rows,
)
from workflow.domain.states import ACTOR_KINDS, TRIGGERS, actors_of

ROWS = list(rows())
#: declared pairs that no entry carries today: each one a finding, see the reasons
GAPS: dict[tuple[str, str], str] = {}
PAIRS = [pytest.param(t, k, id=f"{t}-{k}",
                      marks=[pytest.mark.xfail(strict=True, raises=AssertionError, reason=GAPS[t, k])]
                      if (t, k) in GAPS else [])
         for t in TRIGGERS for k in ACTOR_KINDS if declared(t, k)]


def test_every_declared_trigger_has_an_entry_for_an_allowed_actor() -> None:
    carried = {r.trigger for r in ROWS if r.allowed and r.entry is not None}
    assert set(TRIGGERS) - carried == set()
    assert {r.trigger for r in ROWS} == set(TRIGGERS)


@pytest.mark.parametrize(("trigger", "kind"), PAIRS)
def test_every_declared_pair_has_an_entry(trigger: str, kind: str) -> None:
    entries = [r.entry for r in ROWS if (r.trigger, r.kind) == (trigger, kind) and r.allowed]
    assert entries and None not in entries, (trigger, kind, actors_of(trigger))


def test_every_pair_has_a_row_and_refusals_have_an_entry_unless_no_entry_names_them() -> None:
    pairs = Counter((r.trigger, r.kind) for r in ROWS)
    assert set(pairs) == {(t, k) for t in TRIGGERS for k in ACTOR_KINDS}
    refused_nowhere = {(r.trigger, r.kind) for r in ROWS if not r.allowed and r.entry is None}
    # only the system kind has no way to name a move it is not given: its parts are fixed
    assert {k for _, k in refused_nowhere} <= {"system"}


def test_the_customer_routes_are_routes_of_the_app_for_customer_moves() -> None:
    routes = app_routes()
    for trigger, paths in CUSTOMER_ROUTES.items():
        assert "customer" in actors_of(trigger), trigger
        assert set(paths) <= routes, set(paths) - routes
    assert GENERIC in routes


def test_staff_entries_are_real_routes_and_commands() -> None:
    routes, commands = app_routes(), cli_commands()
    assert GENERIC_CLI.removeprefix("resetdesk ") in commands
    for r in ROWS:
        if r.kind in ("agent", "supervisor") and isinstance(r.entry, str):
            assert r.entry in routes or r.entry.removeprefix("resetdesk ") in commands, r


def test_the_system_parts_exist_and_act_for_system_moves() -> None:
    for trigger, parts in SYSTEM_ENTRIES.items():
        assert declared(trigger, "system"), trigger
        for part in parts:
            if part.mode == "amqp":
                assert part.part in CONSUMER_QUEUES
            elif part.mode == "embedded":
                assert part.part in {"verification", EscalationHandler.name}
    # the leader jobs' names are checked where the jobs run (test_bus_table_workers.py)

