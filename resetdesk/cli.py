"""The ``resetdesk`` command line: the composition root's face."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from resetdesk.cli_common import (
    DATA_DIR_HELP,
    add_data_dir_option,
    app_context,
    current_settings,
    fail,
    require_database,
    use_data_dir,
)
from resetdesk.cli_lazy import Lazy, lazy_group

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
producers = typer.Typer(help="Form producers allowed to send requests.", no_args_is_help=True)
docs_cli = typer.Typer(help="Generated documentation.", no_args_is_help=True)


def _run(name: str) -> Callable[..., Any]:
    from resetdesk import cli_run

    found: dict[str, Callable[..., Any]] = {
        "up": cli_run.up, "serve": cli_run.serve, "publish": cli_run.publish,
        "scheduler": cli_run.scheduler}
    return found[name]


def _transport(name: str) -> Callable[..., Any]:
    from resetdesk import cli_transport

    found: dict[str, Callable[..., Any]] = {
        "consume": cli_transport.consume, "relay": cli_transport.relay}
    return found[name]


def _purge() -> Callable[..., Any]:
    from resetdesk import cli_ops

    return cli_ops.purge


def _tickets() -> typer.Typer:
    from resetdesk.cli_tickets import tickets

    return tickets


def _keys() -> Callable[..., Any]:
    from resetdesk import cli_keys

    return cli_keys.send_key_command


def _callbacks(name: str) -> Callable[..., Any]:
    from resetdesk import cli_callbacks as cb

    found: dict[str, Callable[..., Any]] = {
        "callback": cb.callback, "callback-result": cb.callback_result,
        "book-callback": cb.book_callback, "move-callback": cb.move_callback}
    return found[name]


def _sessions(name: str) -> Callable[..., Any]:
    from resetdesk import cli_sessions

    found: dict[str, Callable[..., Any]] = {
        "remote-code": cli_sessions.remote_code, "end-session": cli_sessions.end_session}
    return found[name]


#: the moves of ``tickets`` kept in modules of their own, after the ones in cli_tickets
TICKET_MOVES = {
    "send-key": Lazy("Send the reset artifact: the customer gets it in their language, with its "
                     "validity.", _keys),
    "callback": Lazy("Book a phone callback for a queued ticket (next free slot, or inside "
                     "--window) and\nemail the customer the time.",
                     lambda: _callbacks("callback")),
    "callback-result": Lazy("Record one call: answered (back to queued), no_answer / wrong_number "
                            "(next slot, or the\nexhausted policy), asked_to_move (next slot or "
                            "--window).", lambda: _callbacks("callback-result")),
    "book-callback": Lazy("Book a new slot for a callback the customer gave back (next free slot, "
                          "or inside\n--window), on the customer's behalf, and email them the "
                          "time.", lambda: _callbacks("book-callback")),
    "move-callback": Lazy("Give the booked callback back for the customer: with --slot or --window "
                          "book the new\ntime at once; without, release it (--reason required): "
                          "the customer is emailed a link to\npick another time.",
                          lambda: _callbacks("move-callback")),
    "remote-code": Lazy("Issue a one-time remote-session code (any older one is revoked); it is "
                        "shown only here.", lambda: _sessions("remote-code")),
    "end-session": Lazy("End the ticket's remote session; the customer is reminded to close the "
                        "tool.", lambda: _sessions("end-session")),
}


def _agents() -> typer.Typer:
    from resetdesk.cli_agents import agents

    return agents


def _dlq() -> typer.Typer:
    from resetdesk.cli_dlq import dlq

    return dlq


def _calendar() -> typer.Typer:
    from resetdesk.cli_ops import calendar_cli

    return calendar_cli


#: every command, in ``--help`` order; each imports its module only when it runs
COMMANDS = {
    "up": Lazy("Run everything in one process on SQLite: intake, workers, notifications.",
               lambda: _run("up")),
    "serve": Lazy("Run the HTTP side alone (production: beside the consumers and the relay).",
                  lambda: _run("serve")),
    "publish": Lazy("Send one request to a running ResetDesk; never writes the database itself.",
                    lambda: _run("publish")),
    "scheduler": Lazy("Run the SLA scheduler (one leader among any number of these; PostgreSQL "
                      "advisory lock).", lambda: _run("scheduler")),
    "consume": Lazy("Run one RabbitMQ consumer until SIGTERM (reconnects after broker restarts).",
                    lambda: _transport("consume")),
    "relay": Lazy("Run the outbox relay: unsent outbox rows -> resetdesk.events, confirmed in "
                  "batches.", lambda: _transport("relay")),
    "purge": Lazy("Anonymise closed tickets past retention and purge their attachments "
                  "(audited).", _purge),
    "db": Lazy("Database schema.", lambda: db_cli),
    "tickets": Lazy("List, show and act on tickets.", _tickets, TICKET_MOVES),
    "producers": Lazy("Form producers allowed to send requests.", lambda: producers),
    "agents": Lazy("Support agents and supervisors.", _agents),
    "docs": Lazy("Generated documentation.", lambda: docs_cli),
    "dlq": Lazy("Dead letters: messages no consumer could process.", _dlq),
    "calendar": Lazy("The business calendar behind the SLA clocks.", _calendar),
}

app = typer.Typer(help="ResetDesk: device password-reset requests, from form to closed ticket.",
                  no_args_is_help=True, cls=lazy_group(COMMANDS))


@app.callback()
def _root(data_dir: Annotated[Path | None, typer.Option(help=DATA_DIR_HELP, file_okay=False)] = None,
          ) -> None:
    """ResetDesk: device password-reset requests, from form to closed ticket."""
    use_data_dir(data_dir, reset=True)


UrlOpt = Annotated[str | None, typer.Option("--url", help="database URL (default: settings)")]


def _url(url: str | None) -> str:
    return url or current_settings().resolved_database_url()


@db_cli.command()
def upgrade(url: UrlOpt = None) -> None:
    """Create or migrate the database to the latest schema."""
    from workflow.adapters import migrate

    target = _url(url)
    migrate.upgrade(target)
    typer.echo(f"database at head ({', '.join(migrate.heads())})")


@db_cli.command()
def check(url: UrlOpt = None) -> None:
    """Fail if the database and the code's tables differ."""
    from workflow.adapters import migrate

    if url is None:
        require_database(current_settings())
    try:
        migrate.check(_url(url))
    except Exception as err:  # alembic raises its own CommandError family
        fail(str(err))
    typer.echo("no drift")


@producers.command("add")
def producers_add(
    name: Annotated[str, typer.Argument(help="short name, e.g. webform")],
    source: Annotated[str, typer.Option(help="the CloudEvents source URI it sends as")],
) -> None:
    """Register a producer and print its bearer token (shown once, stored only as a hash)."""
    from workflow.adapters import accounts

    with app_context() as ctx:
        token = accounts.add_producer(ctx.db, name, source)
    typer.echo(token)
    typer.echo(f"producer {name} ({source}) added; keep the token above, it is not shown again",
               err=True)


@producers.command("list")
def producers_list() -> None:
    from workflow.adapters import accounts

    with app_context() as ctx:
        for p in accounts.list_producers(ctx.db):
            typer.echo(f"{p.name}\t{p.source}")


@docs_cli.command("diagram")
def docs_diagram(
    out: Annotated[Path, typer.Option(help="file to write")] = Path("docs/state-machine.md"),
) -> None:
    """Regenerate the state diagram from the transitions table."""
    from workflow.domain.diagram import document

    out.write_text(document(), encoding="utf-8")
    typer.echo(f"wrote {out}")


@docs_cli.command("config")
def docs_config(check: Annotated[bool, typer.Option(
        help="only tell whether the file is up to date (exit 1 if not)")] = False) -> None:
    """Regenerate docs/configuration.md from the settings models."""
    from resetdesk import settings_doc

    if check:
        current = settings_doc.DOCUMENT.read_text(encoding="utf-8") if \
            settings_doc.DOCUMENT.exists() else ""
        if current != settings_doc.render():
            fail(f"stale: {settings_doc.DOCUMENT} (run `resetdesk docs config`)")
        typer.echo(f"{settings_doc.DOCUMENT} is up to date")
        return
    typer.echo(f"wrote {settings_doc.write()}")


add_data_dir_option(app)

if __name__ == "__main__":
    app()
