"""Shared CLI plumbing: settings found through the data directory, the App per invocation, the
database check every command makes first, and the mapping of errors to exit codes.

Imported by every command, ``--help`` included: it imports only typer and the standard library
at module level; settings, SQLAlchemy and the composition root come in when a command runs."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import signal
import sqlite3
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.models import CommandInfo

from resetdesk import instance
from resetdesk.logs import logging_configured

if TYPE_CHECKING:
    from resetdesk.bootstrap import App
    from resetdesk.settings import Settings
    from telemetry.server import OpsServer
    from workflow.domain.actors import Actor

DATA_DIR_HELP = "where the database and resetdesk.json live (default: $RESETDESK_DATA_DIR or .)"
#: commands that write links customers open, and the services that do: they warn when the
#: public URL is only a guess (the others print nothing, so their output stays parseable)
LINK_COMMANDS = frozenset({"send-key", "callback", "callback-result", "remote-code", "serve",
                           "consume", "scheduler"})


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


_invoked: list[str] = []
#: this invocation's ``--data-dir`` (empty: the settings' own, $RESETDESK_DATA_DIR or .)
_data_dir: list[Path] = []


def use_data_dir(value: Path | None, *, reset: bool = False) -> None:
    """``--data-dir`` on any command: it wins over the settings' ``data_dir``. ``reset`` starts a
    new invocation (the root callback's), so one run's directory never leaks into the next."""
    if reset:
        _data_dir.clear()
    if value is not None and str(value) != "":
        _data_dir[:] = [value]


def current_settings(**overrides: Any) -> Settings:
    """This invocation's settings: the environment, then ``--data-dir``, then ``overrides``
    (nested as dicts); a bad or renamed setting ends the command with one line (exit code 2)."""
    from resetdesk.settings import SettingsError, load_settings

    if _data_dir:
        overrides.setdefault("data_dir", _data_dir[0])
    try:
        return load_settings(**overrides)
    except SettingsError as err:
        fail(str(err), 2)


def add_data_dir_option(app: typer.Typer) -> None:
    """Give every command of ``app`` (and its sub-apps) that lacks one a ``--data-dir`` option,
    so ``resetdesk tickets list --data-dir D`` works like ``resetdesk --data-dir D tickets list``."""
    for info in app.registered_commands:
        _wrap(info)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            add_data_dir_option(group.typer_instance)


def _wrap(info: CommandInfo) -> None:
    callback = info.callback
    if callback is None or getattr(callback, "_data_dir_added", False):
        return
    name = info.name or callback.__name__.replace("_", "-")
    signature = inspect.signature(callback, eval_str=True)
    has_own = "data_dir" in signature.parameters

    @functools.wraps(callback)
    def command(*args: Any, **kwargs: Any) -> Any:
        _invoked[:] = [name]
        if not has_own:
            use_data_dir(kwargs.pop("data_dir", None))
        return callback(*args, **kwargs)

    params = list(signature.parameters.values())
    if not has_own:
        params.append(inspect.Parameter(
            "data_dir", inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[Path | None, typer.Option(help=DATA_DIR_HELP, file_okay=False)]))
    command.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command._data_dir_added = True  # type: ignore[attr-defined]
    info.callback = command


def cli_settings(given: Settings | None = None) -> Settings:
    """Settings with the public URL filled in: $RESETDESK_SERVER__PUBLIC_URL, else the one ``up``
    recorded in the data directory. Else, embedded, the URL of the configured host and port (where
    ``up`` would be); in production no guess is made (127.0.0.1 in a customer's email helps
    nobody). Either way the commands and services that write links say so."""
    s = given or current_settings()
    if s.server.public_url:
        return s
    recorded = instance.read(s.data_dir)
    if recorded is not None:
        return s.with_server(public_url=recorded.public_url)
    guessed = instance.http_url(s.server.host, s.server.port) if s.embedded else None
    if _invoked and _invoked[0] in LINK_COMMANDS:
        consequence = (f"links in emails will point to {guessed}" if guessed
                       else "emails will go out without customer links")
        warning = (f"no RESETDESK_SERVER__PUBLIC_URL and no {s.data_dir / instance.INSTANCE_FILE} "
                   f"(written by `resetdesk up`): {consequence}")
        if logging_configured():  # a long-running process: its configured log says it
            logging.getLogger("resetdesk.cli").warning(warning)
        else:
            typer.secho(f"warning: {warning}", err=True, fg=typer.colors.YELLOW)
    return s.with_server(public_url=guessed)


def require_database(settings: Settings) -> None:
    """Refuse, in one line, to run where there is no database; never create one (only ``up``
    and ``db upgrade`` do). SQLite is checked without opening it for writing."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(settings.resolved_database_url())
    except ArgumentError as err:
        fail(f"bad database URL: {err}")
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database)
    where = f"no ResetDesk database at {path.resolve()}"
    hint = ("pass --data-dir DIR (or set RESETDESK_DATA_DIR) where `resetdesk up` runs, "
            "or create one with `resetdesk up` / `resetdesk db upgrade`")
    if not path.is_file():
        fail(f"{where}: {hint}")
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                 "AND name = 'ticket'").fetchone()
    except sqlite3.Error as err:
        fail(f"{path.resolve()} is not a ResetDesk database ({err}): {hint}")
    if not found:
        fail(f"{where} (the file has no tables): {hint}")


@contextmanager
def app_context() -> Iterator[App]:
    """An App for one command; workflow errors become a one-line message and exit code."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from resetdesk.bootstrap import bootstrap
    from workflow.domain.errors import ConcurrencyConflict, WorkflowError

    settings = cli_settings()
    require_database(settings)
    app = bootstrap(settings)
    try:
        yield app
    except ConcurrencyConflict as err:
        fail(str(err), 3)
    except WorkflowError as err:
        fail(str(err), 2 if err.transient else 1)
    except (OperationalError, ProgrammingError) as err:
        fail(f"database: {str(err.orig).splitlines()[0] if err.orig else err}")
    finally:
        app.close()


def staff(app: App, login: str) -> Actor:
    """``--as LOGIN`` as an actor: an existing, enabled agent, its kind from its role."""
    from workflow.adapters.accounts import agent_role
    from workflow.domain.actors import Actor

    role = agent_role(app.db, login)
    if role is None:
        fail(f"--as {login}: no enabled agent with this login (see `resetdesk agents add`)")
    return Actor.staff(login, role)


def echo_json(value: Any, dumps: Callable[[Any], str]) -> None:
    sys.stdout.write(dumps(value) + "\n")


def ops_listener(app: App, process: str) -> OpsServer | None:
    """This process's ops listener (``RESETDESK_OPS__PORT``; None when 0), or exit saying why."""
    from resetdesk.ops import start_listener

    try:
        return start_listener(app, process)
    except ValueError as err:
        fail(str(err))


def stop_on_signals() -> threading.Event:
    """An event SIGTERM or SIGINT sets: a long-running command stops cleanly on either."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop
