"""``resetdesk dlq …``: list, show, replay and discard archived dead letters (docs/dead-letters.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from resetdesk.cli_common import app_context, current_settings, echo_json, fail, ops_listener, stop_on_signals
from resetdesk.logs import configure_logging
from workflow.adapters import dead_letters
from workflow.adapters.queries import dumps

dlq = typer.Typer(help="Dead letters: messages no consumer could process.", no_args_is_help=True)

AsOpt = Annotated[str, typer.Option("--as", help="agent login, or system:ops:<user>")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="why (kept in the audit trail)")]
#: the old spelling, still accepted
WhyOpt = Annotated[str | None, typer.Option("--why", hidden=True)]
UrlOpt = Annotated[str | None, typer.Option(
    "--url", help="amqp://… of the broker (default: RESETDESK_BROKER_URL)")]


def _reason(reason: str | None, why: str | None) -> str:
    given = reason if reason is not None else why
    if given is None or not given.strip():
        fail("give --reason TEXT: it is kept in the audit trail")
    return given


def _actor(login: str) -> str:
    if login.startswith(dead_letters.ACTOR_PREFIXES):
        return login
    if ":" in login or not login.strip():
        fail(f"--as takes an agent login or system:ops:<user>, not {login!r}")
    return f"agent:{login.strip()}"


@dlq.command("list")
def list_(
    queue: Annotated[str | None, typer.Option(help="source queue, e.g. verification")] = None,
    status: Annotated[str | None, typer.Option(
        help=f"one of: {', '.join(dead_letters.STATUSES)}")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Dead letters, newest first."""
    if status and status not in dead_letters.STATUSES:
        fail(f"unknown status {status!r}; use one of: {', '.join(dead_letters.STATUSES)}")
    with app_context() as app:
        rows = dead_letters.list_dead_letters(app.db, queue=queue, status=status, limit=limit)
    if as_json:
        echo_json([r.summary() for r in rows], dumps)
        return
    if not rows:
        typer.echo("no dead letters")
        return
    typer.echo(f"{'ID':>6} {'QUEUE':<14} {'STATUS':<10} {'ARCHIVED':<17} {'EVENT TYPE':<40} REASON")
    for r in rows:
        typer.echo(f"{r.id:>6} {r.queue:<14} {r.status:<10} {r.archived_at:%Y-%m-%d %H:%M}Z "
                   f"{(r.event_type or '-'):<40} {r.reason[:80]}")


@dlq.command()
def show(
    letter_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One dead letter, personal data masked."""
    with app_context() as app:
        details = dead_letters.show(app.db, letter_id)
    if as_json:
        echo_json(details, dumps)
        return
    typer.echo(f"dead letter {details['id']} from {details['queue']}: {details['status']}"
               + (f" by {details['acted_by']} at {details['acted_at']} ({details['act_reason']})"
                  if details["acted_by"] else ""))
    typer.echo(f"reason: {details['reason']}")
    typer.echo(f"event: {details['event_type'] or '-'}  id: {details['message_id'] or '-'}  "
               f"died: {details['dead_at'] or '-'}  archived: {details['archived_at']}")
    typer.echo("properties: " + dumps(details["properties"]))
    typer.echo("headers: " + dumps(details["headers"]))
    typer.echo("payload (personal data masked):")
    typer.echo(dumps(details["payload"]))


@dlq.command()
def replay(
    letter_id: Annotated[int, typer.Argument(metavar="ID")],
    as_actor: AsOpt,
    reason: ReasonOpt = None,
    why: WhyOpt = None,
    url: Annotated[str | None, typer.Option(
        "--url", help="amqp://… of a user with the impersonator tag (default: settings)")] = None,
) -> None:
    """Publish the original message again, to its original exchange; audited."""
    from consumers.amqp.confirms import PublishError
    from consumers.amqp.dlq import AmqpRepublisher

    actor, why = _actor(as_actor), _reason(reason, why)
    with app_context() as app:
        broker = url or app.settings.broker_url
        if not broker:
            fail("no broker: pass --url amqp://… or set RESETDESK_BROKER_URL")
        try:
            letter = dead_letters.replay(app.db, letter_id, republish=AmqpRepublisher(broker),
                                         actor=actor, why=why, now=app.clock.now())
        except (PublishError, ValueError) as err:
            fail(f"dead letter {letter_id} not replayed: {err}")
    typer.echo(f"dead letter {letter.id} replayed to its exchange by {letter.acted_by}")


@dlq.command()
def discard(
    letter_id: Annotated[int, typer.Argument(metavar="ID")],
    as_actor: AsOpt,
    reason: ReasonOpt = None,
    why: WhyOpt = None,
) -> None:
    """Mark a dead letter as not to be replayed; audited, nothing is deleted."""
    actor, why = _actor(as_actor), _reason(reason, why)
    with app_context() as app:
        try:
            letter = dead_letters.discard(app.db, letter_id, actor=actor, why=why,
                                          now=app.clock.now())
        except ValueError as err:
            fail(str(err))
    typer.echo(f"dead letter {letter.id} discarded by {letter.acted_by}")


@dlq.command("archive")
def archive(
    timeout: Annotated[float, typer.Option(help="seconds any broker wait may take")] = 10.0,
    url: UrlOpt = None,
) -> None:
    """Run the archiver: every consumer's <queue>.dlq into the dead-letter table, until stopped."""
    from consumers.amqp.dlq import run_archiver

    configure_logging(current_settings().logging, "dlq-archive")
    with app_context() as app:
        broker = url or app.settings.broker_url
        if not broker:
            fail("the archiver needs --url amqp://… or RESETDESK_BROKER_URL")
        typer.echo("ResetDesk dead-letter archiver: <queue>.dlq -> dead_letter table (Ctrl-C stops)")
        ops_listener(app, "dlq-archive")  # a daemon thread: it ends with the process
        run_archiver(db=app.db, broker_url=broker, stop_event=stop_on_signals(), timeout=timeout)

