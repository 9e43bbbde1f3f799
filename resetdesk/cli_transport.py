"""``resetdesk consume`` and ``resetdesk relay``: the processes that move messages through
RabbitMQ in production mode (docs/operations-amqp.md). Embedded mode runs neither: ``up``
relays and consumes in-process."""

from __future__ import annotations

from typing import Annotated

import typer

from resetdesk.bootstrap import bootstrap
from resetdesk.cli_common import app_context, cli_settings, fail, require_database, stop_on_signals
from resetdesk.logs import configure_logging
from resetdesk.settings import Settings

UrlOpt = Annotated[str | None, typer.Option(
    "--url", help="amqp://… of the broker (default: RESETDESK_BROKER_URL)")]


def consume(queue: Annotated[str, typer.Argument(help="verification | notifications | escalation")]
            ) -> None:
    """Run one RabbitMQ consumer until SIGTERM (reconnects after broker restarts)."""
    from consumers.amqp.main import consume_main

    configure_logging(Settings(), f"consume:{queue}")
    settings = cli_settings()
    require_database(settings)
    app = bootstrap(settings)
    try:
        consume_main(app, queue)
    except ValueError as err:
        fail(str(err))
    finally:
        app.close()


def relay(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="rows per confirmed batch")] = 500,
    confirm_timeout: Annotated[float, typer.Option(help="seconds to wait for a batch's confirms")] = 10.0,
    url: UrlOpt = None,
) -> None:
    """Run the outbox relay: unsent outbox rows -> resetdesk.events, confirmed in batches."""
    from consumers.amqp.relay import run_relay

    configure_logging(Settings(), "relay")
    with app_context() as app:
        broker = url or app.settings.broker_url
        if not broker:
            fail("the relay needs --url amqp://… or RESETDESK_BROKER_URL (embedded mode relays "
                 "in-process: `up`)")
        typer.echo(f"ResetDesk outbox relay: batches of {batch}, confirm timeout {confirm_timeout:g} s")
        run_relay(db=app.db, broker_url=broker, stop_event=stop_on_signals(), batch=batch,
                  confirm_timeout=confirm_timeout)
