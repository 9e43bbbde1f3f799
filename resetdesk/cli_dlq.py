"""``resetdesk dlq …``: the dead letters of both transports (the AMQP archive and embedded mode's
dead rows) — list, show, retry, discard — and the AMQP archiver (docs/dead-letters.md).

Every option has one spelling across the commands: the filters (``--transport --queue --cause
--permanence --since --status``) read the same in ``list`` and in ``retry``/``discard
--all-matching``; ``--reason`` is always the reason for an action. ``replay`` and ``--why`` are
the old spellings of ``retry`` and ``--reason``, kept hidden; a bare number is ``amqp:<number>``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import typer

from resetdesk.cli_common import app_context, current_settings, echo_json, fail, ops_listener, stop_on_signals
from resetdesk.logs import configure_logging
from resetdesk.masking import mask
from workflow.adapters import dead_letter_ops, dead_letters
from workflow.adapters.queries import dead_letter_view as view
from workflow.adapters.queries import dumps
from workflow.service.dead_letter_ports import Outcome

dlq = typer.Typer(help="Dead letters: messages no consumer could process.", no_args_is_help=True)

AsOpt = Annotated[str, typer.Option("--as", help="agent login, or system:ops:<user>")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="why (kept in the audit trail)")]
WhyOpt = Annotated[str | None, typer.Option("--why", hidden=True)]  # the old spelling
UrlOpt = Annotated[str | None, typer.Option(
    "--url", help="amqp://… of the broker (default: RESETDESK_BROKER_URL)")]
KeysArg = Annotated[list[str] | None, typer.Argument(
    metavar="KEY...", help="amqp:<id>, inbox:<reference> or delivery:<id> (as `list` shows)")]
TransportOpt = Annotated[str | None, typer.Option(help=f"one of: {', '.join(view.TRANSPORTS)}")]
QueueOpt = Annotated[str | None, typer.Option(help="source queue, e.g. verification")]
CauseOpt = Annotated[str | None, typer.Option(help="the dead letter's reason contains this")]
PermanenceOpt = Annotated[str | None, typer.Option(help="permanent | retryable")]
SinceOpt = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                   help="dead on or after this day (UTC)")]
AllOpt = Annotated[bool, typer.Option("--all-matching", help="every dead letter the filters match")]


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


def _key(given: str) -> str:
    return f"amqp:{given}" if given.isdigit() else given


def _filter(transport: str | None, queue: str | None, cause: str | None,
            permanence: str | None, since: datetime | None,
            status: str = dead_letters.DEAD) -> view.Filter:
    day: date | None = since.date() if since else None
    try:
        return view.Filter(transport, queue, cause, permanence, day, status).check()
    except ValueError as err:
        fail(str(err))


@dlq.command("list")
def list_(transport: TransportOpt = None, queue: QueueOpt = None, cause: CauseOpt = None,
          permanence: PermanenceOpt = None, since: SinceOpt = None,
          status: Annotated[str, typer.Option(
              help=f"one of: {', '.join(dead_letters.STATUSES)} (embedded rows: dead only)")]
          = dead_letters.DEAD,
          limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
          as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False) -> None:
    """Dead letters of both transports, newest death first."""
    f = _filter(transport, queue, cause, permanence, since, status)
    with app_context() as app:
        rows = view.list_letters(app.db, f, limit=limit)
    if as_json:
        echo_json([r.summary() for r in rows], dumps)
        return
    if not rows:
        typer.echo("no dead letters" + (" match these filters" if f != view.Filter() else ""))
        return
    typer.echo(f"{'KEY':<22} {'QUEUE':<14} {'STATUS':<9} {'DIED':<17} {'KIND':<9} "
               f"{'EVENT TYPE':<38} REASON")
    for r in rows:
        died = f"{r.dead_at:%Y-%m-%d %H:%M}Z" if r.dead_at else "-"
        kind = "permanent" if r.permanent else "retryable"
        typer.echo(f"{r.key:<22} {r.queue:<14} {r.status:<9} {died:<17} {kind:<9} "
                   f"{(r.event_type or '-'):<38} {r.reason[:80]}")


@dlq.command()
def show(key: Annotated[str, typer.Argument(metavar="KEY")],
         as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One dead letter: reason, x-death history, headers, payload (personal data masked)."""
    with app_context() as app:
        details = view.detail(app.db, _key(key))
    if details is None:
        fail(f"no dead letter {key}")
    if as_json:
        echo_json(details, dumps)
        return
    typer.echo(f"dead letter {details['key']} from {details['queue']} ({details['transport']}): "
               f"{details['status']}" + (f" by {details['acted_by']} at {details['acted_at']} "
                                         f"({details['act_reason']})" if details["acted_by"] else ""))
    kind = "PERMANENT: a retry is refused again unless the cause is fixed" \
        if details["permanent"] else "retryable"
    typer.echo(f"reason ({details['code'] or 'no code'}, {kind}): {mask(details['reason'])}")
    typer.echo(f"event: {details['event_type'] or '-'}  id: {details['message_id'] or '-'}  "
               f"died: {details['dead_at'] or '-'}  attempts: {details['attempts'] or '-'}")
    for name in ("x_death", "headers", "properties"):
        typer.echo(f"{name.replace('_', '-')}: " + mask(dumps(details[name])))
    typer.echo("payload (personal data masked):")
    typer.echo(mask(dumps(details["payload"])))
    for a in details["audit"]:
        typer.echo(f"{a['at']:%Y-%m-%d %H:%M}Z {a['action']} by {a['actor']}: {a['reason']}")


def _targets(db: Any, keys: list[str] | None, all_matching: bool, f: view.Filter) -> list[str]:
    if all_matching == bool(keys):
        fail("name the dead letters (KEY...) or pass --all-matching with filters, not both")
    if keys:
        return [_key(k) for k in keys]
    return [x.key for x in view.list_letters(db, f, limit=view.SCAN_MAX)]


def _report(done: list[Outcome], verb: str) -> None:
    for o in done:
        typer.echo(f"dead letter {o.key}: {o.text}", err=not o.ok)
    ok = sum(o.ok for o in done)
    typer.echo(f"{ok} of {len(done)} dead letter(s) {verb}")
    if ok < len(done):
        raise typer.Exit(1)


@dlq.command()
def retry(keys: KeysArg = None, all_matching: AllOpt = False, *, as_actor: AsOpt,
          reason: ReasonOpt = None, why: WhyOpt = None,
          confirm_permanent: Annotated[bool, typer.Option(
              "--confirm-permanent", help="retry letters that died for a permanent reason too")]
          = False,
          transport: TransportOpt = None, queue: QueueOpt = None, cause: CauseOpt = None,
          permanence: PermanenceOpt = None, since: SinceOpt = None, url: UrlOpt = None) -> None:
    """Send dead letters back to where they died (after the cause is fixed); audited."""
    from consumers.amqp.dlq import AmqpRepublisher

    actor, text = _actor(as_actor), _reason(reason, why)
    f = _filter(transport, queue, cause, permanence, since)
    with app_context() as app:
        broker = url or app.settings.broker_url
        targets = _targets(app.db, keys, all_matching, f)
        try:
            done = dead_letter_ops.retry_many(
                app.db, targets, actor=actor, why=text, now=app.clock.now(),
                republish=AmqpRepublisher(broker) if broker else None,
                confirm_permanent=confirm_permanent)
        except ValueError as err:
            fail(str(err))
    _report(done, "retried")


dlq.command("replay", hidden=True)(retry)  # the old name


@dlq.command()
def discard(keys: KeysArg = None, all_matching: AllOpt = False, *, as_actor: AsOpt,
            reason: ReasonOpt = None, why: WhyOpt = None,
            transport: TransportOpt = None, queue: QueueOpt = None, cause: CauseOpt = None,
            permanence: PermanenceOpt = None, since: SinceOpt = None) -> None:
    """Mark dead letters as not to be retried; audited, nothing is deleted."""
    actor, text = _actor(as_actor), _reason(reason, why)
    f = _filter(transport, queue, cause, permanence, since)
    with app_context() as app:
        targets = _targets(app.db, keys, all_matching, f)
        try:
            done = dead_letter_ops.discard_many(app.db, targets, actor=actor, why=text,
                                                now=app.clock.now())
        except ValueError as err:
            fail(str(err))
    _report(done, "discarded")


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
        typer.echo("ResetDesk dead-letter archiver: <queue>.dlq -> dead-letter table (Ctrl-C stops)")
        ops_listener(app, "dlq-archive")  # a daemon thread: it ends with the process
        run_archiver(db=app.db, broker_url=broker, stop_event=stop_on_signals(), timeout=timeout)
