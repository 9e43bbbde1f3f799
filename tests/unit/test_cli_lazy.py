"""``resetdesk --help`` lists the lazy commands from the table in ``resetdesk.cli`` without
importing them: each text there must stay the loaded command's own."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from resetdesk.cli import COMMANDS, TICKET_MOVES, app
from resetdesk.cli_lazy import Lazy, build

ENTRIES = [(name, entry) for table in (COMMANDS, TICKET_MOVES) for name, entry in table.items()]


@pytest.mark.parametrize(("name", "entry"), ENTRIES, ids=[name for name, _ in ENTRIES])
def test_listed_help_is_the_loaded_commands_help(name: str, entry: Lazy) -> None:
    assert build(name, entry.load(), entry.more).help == entry.help


def test_tickets_lists_its_own_commands_then_the_lazy_moves() -> None:
    root = typer.main.get_command(app)
    with root.make_context("resetdesk", ["tickets"]) as ctx:
        tickets = root.get_command(ctx, "tickets")  # type: ignore[attr-defined]
        names = tickets.list_commands(ctx)
    assert names[:3] == ["list", "show", "act"]
    assert names[-len(TICKET_MOVES):] == list(TICKET_MOVES)


def test_an_unknown_command_is_still_refused() -> None:
    result = CliRunner().invoke(app, ["tickts", "list"])
    assert result.exit_code == 2
    assert "No such command 'tickts'" in result.output
