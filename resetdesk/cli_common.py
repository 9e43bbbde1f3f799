"""Shared CLI plumbing: the app object per invocation and the mapping of errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

from resetdesk.bootstrap import App, bootstrap
from workflow.domain.actors import Actor
from workflow.domain.errors import ConcurrencyConflict, WorkflowError


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@contextmanager
def app_context() -> Iterator[App]:
    """An App for one command; workflow errors become a one-line message and exit code."""
    app = bootstrap()
    try:
        yield app
    except ConcurrencyConflict as err:
        fail(str(err), 3)
    except WorkflowError as err:
        fail(str(err), 2 if err.transient else 1)
    finally:
        app.close()


def staff(app: App, login: str) -> Actor:
    """``--as LOGIN`` as an actor: an existing, enabled agent, its kind from its role."""
    from workflow.adapters.accounts import agent_role

    role = agent_role(app.db, login)
    if role is None:
        fail(f"--as {login}: no enabled agent with this login (see `resetdesk agents add`)")
    return Actor.staff(login, role)


def echo_json(value: Any, dumps: Callable[[Any], str]) -> None:
    sys.stdout.write(dumps(value) + "\n")
