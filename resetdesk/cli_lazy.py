"""Commands and sub-apps imported only when they run, so every command pays for its own imports.

``resetdesk --help`` lists a lazy entry by its name and the help text given here, without
importing its module; running it (or asking for its own ``--help``) imports it then. A unit test
holds each help text given here equal to the loaded command's (tests/unit/test_cli_lazy.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer import _click
from typer.core import TyperCommand, TyperGroup

from resetdesk.cli_common import add_data_dir_option


@dataclass(frozen=True)
class Lazy:
    """One entry of a lazy group: what ``--help`` says of it, and how to get it."""

    help: str
    #: returns a ``typer.Typer`` (a sub-app) or a plain function (a command)
    load: Callable[[], typer.Typer | Callable[..., Any]]
    #: a sub-app's own lazy entries, listed after its commands
    more: dict[str, Lazy] | None = None


def build(name: str, target: typer.Typer | Callable[..., Any],
          more: dict[str, Lazy] | None = None) -> _click.Command:
    """The click command typer builds for ``target`` under ``name``, with ``--data-dir``."""
    holder = typer.Typer()
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name, cls=lazy_group(more or {}))
    else:
        holder.command(name)(target)
    add_data_dir_option(holder)
    return typer.main.get_group(holder).commands[name]


class LazyGroup(TyperGroup):
    """A typer group whose ``lazy`` entries come after its own commands, imported on first use.

    Typer instantiates the group class itself (no extra arguments), so the table is a class
    attribute: make a subclass with :func:`lazy_group`."""

    lazy: ClassVar[dict[str, Lazy]] = {}
    _describing = False

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*(name for name in self.commands if name not in self.lazy), *self.lazy]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        found = self.commands.get(cmd_name)
        entry = self.lazy.get(cmd_name)
        if found is not None or entry is None:
            return found
        if self._describing:  # the group's own help needs only the name and the help text
            return TyperCommand(cmd_name, help=entry.help)
        command = self.commands[cmd_name] = build(cmd_name, entry.load(), entry.more)
        return command

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        self._describing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._describing = False


def lazy_group(entries: dict[str, Lazy]) -> type[LazyGroup]:
    """A :class:`LazyGroup` subclass for ``typer.Typer(cls=...)`` with these entries."""
    return type("LazyGroup", (LazyGroup,), {"lazy": entries})
