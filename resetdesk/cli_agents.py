"""``resetdesk agents add | list | disable | enable | set-password | role``: the staff accounts
the console and the API sign in with (there is no sign-up: an operator makes them here)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from resetdesk.cli_common import app_context, fail
from workflow.adapters import accounts

agents = typer.Typer(help="Support agents and supervisors.", no_args_is_help=True)
Login = Annotated[str, typer.Argument(help="the agent's login")]
FromStdin = Annotated[bool, typer.Option(help="read the password from stdin")]
MIN_PASSWORD = 10


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        fail(f"a password needs at least {MIN_PASSWORD} characters")
    return password


Role = Annotated[str, typer.Argument(help="agent | supervisor")]


def _check_role(role: str) -> None:
    if role not in accounts.ROLES:
        fail(f"a role is {' or '.join(accounts.ROLES)}, not {role!r}")


@agents.command("add")
def agents_add(login: Login, name: Annotated[str, typer.Option(help="display name")] = "",
               role: Annotated[str, typer.Option(help="agent | supervisor")] = "agent",
               password_stdin: FromStdin = False) -> None:
    """Add an agent; the password is stored argon2-hashed."""
    _check_role(role)
    password = _password(password_stdin)
    with app_context() as ctx:
        accounts.add_agent(ctx.db, login, password, name, role)
    typer.echo(f"{role} {login} added")


@agents.command("list")
def agents_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every agent: login, role, enabled or disabled, display name."""
    with app_context() as ctx:
        found = accounts.list_agents(ctx.db)
    if as_json:
        typer.echo(json.dumps([{"login": a.login, "display_name": a.display_name, "role": a.role,
                                "enabled": a.active} for a in found], indent=2))
        return
    for a in found:
        typer.echo(f"{a.login}\t{a.role}\t{'enabled' if a.active else 'disabled'}\t"
                   f"{a.display_name}")


@agents.command("disable")
def agents_disable(login: Login) -> None:
    """Refuse the agent's sign-ins and end their sessions (API tokens and console cookies)."""
    with app_context() as ctx:
        accounts.set_agent_active(ctx.db, login, False)
    typer.echo(f"agent {login} disabled; their sessions have ended")


@agents.command("enable")
def agents_enable(login: Login) -> None:
    """Let a disabled agent sign in again (their old sessions stay ended)."""
    with app_context() as ctx:
        accounts.set_agent_active(ctx.db, login, True)
    typer.echo(f"agent {login} enabled")


@agents.command("set-password")
def agents_set_password(login: Login, password_stdin: FromStdin = False) -> None:
    """Give an agent a new password; their sessions end (they sign in again)."""
    password = _password(password_stdin)
    with app_context() as ctx:
        accounts.set_agent_password(ctx.db, login, password)
    typer.echo(f"password of {login} changed; their sessions have ended")


@agents.command("role")
def agents_role(login: Login, role: Role) -> None:
    """Set an agent's role; only supervisors may take over or reassign a ticket."""
    _check_role(role)
    with app_context() as ctx:
        accounts.set_agent_role(ctx.db, login, role)
    typer.echo(f"agent {login} is now {role}")
