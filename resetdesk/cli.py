"""The ``resetdesk`` command line: the composition root's face."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from resetdesk import (
    cli_agents,
    cli_callbacks,
    cli_dlq,
    cli_keys,
    cli_ops,
    cli_run,
    cli_sessions,
    cli_transport,
)
from resetdesk.cli_common import (
    DATA_DIR_HELP,
    add_data_dir_option,
    app_context,
    current_settings,
    fail,
    require_database,
    use_data_dir,
)
from resetdesk.cli_tickets import tickets
from workflow.adapters import accounts, migrate

app = typer.Typer(help="ResetDesk: device password-reset requests, from form to closed ticket.",
                  no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
producers = typer.Typer(help="Form producers allowed to send requests.", no_args_is_help=True)
docs_cli = typer.Typer(help="Generated documentation.", no_args_is_help=True)
app.add_typer(db_cli, name="db")
app.add_typer(tickets, name="tickets")
app.add_typer(producers, name="producers")
app.add_typer(cli_agents.agents, name="agents")
app.add_typer(docs_cli, name="docs")
app.command()(cli_run.up)
app.command()(cli_run.serve)
app.command()(cli_run.publish)
app.command()(cli_run.scheduler)
app.command()(cli_transport.consume)
app.command()(cli_transport.relay)
app.add_typer(cli_dlq.dlq, name="dlq")
tickets.command("send-key")(cli_keys.send_key_command)
tickets.command("callback")(cli_callbacks.callback)
tickets.command("callback-result")(cli_callbacks.callback_result)
tickets.command("book-callback")(cli_callbacks.book_callback)
tickets.command("move-callback")(cli_callbacks.move_callback)
tickets.command("remote-code")(cli_sessions.remote_code)
tickets.command("end-session")(cli_sessions.end_session)
app.command()(cli_ops.purge)
app.add_typer(cli_ops.calendar_cli, name="calendar")



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
    target = _url(url)
    migrate.upgrade(target)
    typer.echo(f"database at head ({', '.join(migrate.heads())})")


@db_cli.command()
def check(url: UrlOpt = None) -> None:
    """Fail if the database and the code's tables differ."""
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
    with app_context() as ctx:
        token = accounts.add_producer(ctx.db, name, source)
    typer.echo(token)
    typer.echo(f"producer {name} ({source}) added; keep the token above, it is not shown again",
               err=True)


@producers.command("list")
def producers_list() -> None:
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
