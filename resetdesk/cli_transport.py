"""``resetdesk consume`` and ``resetdesk relay``: the processes that move messages through
RabbitMQ in production mode (docs/operations-amqp.md). Embedded mode runs neither: ``up``
relays and consumes in-process."""

from __future__ import annotations

from typing import Annotated

import typer

from resetdesk.bootstrap import bootstrap
from resetdesk.cli_common import (
    app_context,
    cli_settings,
    current_settings,
    fail,
    ops_listener,
    require_database,
    stop_on_signals,
)
from resetdesk.logs import configure_logging

UrlOpt = Annotated[str | None, typer.Option(
    "--url", help="amqp://… of the broker (default: RESETDESK_BROKER_URL)")]


def consume(queue: Annotated[str, typer.Argument(help="verification | notifications | escalation")]
            ) -> None:
    """Run one RabbitMQ consumer until SIGTERM (reconnects after broker restarts)."""
    from consumers.amqp.main import consume_main

    configure_logging(current_settings().logging, f"consume:{queue}")
    configured = cli_settings()
    require_database(configured)
    app = bootstrap(configured)
    listener = ops_listener(app, f"consume:{queue}")
    try:
        consume_main(app, queue)
    except ValueError as err:
        fail(str(err))
    finally:
        if listener is not None:
            listener.stop()
        app.close()


def relay(
    batch: Annotated[int | None, typer.Option(
        min=1, max=10_000, help="rows per confirmed batch (default: settings, 500)")] = None,
    confirm_timeout: Annotated[float | None, typer.Option(
        help="seconds to wait for a batch's confirms (default: settings, 10)")] = None,
    url: UrlOpt = None,
) -> None:
    """Run the outbox relay: unsent outbox rows -> resetdesk.events, confirmed in batches."""
    from consumers.amqp.relay import run_relay

    configure_logging(current_settings().logging, "relay")
    with app_context() as app:
        amqp = app.settings.amqp
        broker = url or app.settings.broker_url
        if not broker:
            fail("the relay needs --url amqp://… or RESETDESK_BROKER_URL (embedded mode relays "
                 "in-process: `up`)")
        batch = batch or amqp.relay_batch
        timeout = confirm_timeout or amqp.relay_confirm_timeout_seconds
        typer.echo(f"ResetDesk outbox relay: batches of {batch}, confirm timeout {timeout:g} s")
        ops_listener(app, "relay")  # a daemon thread: it ends with the process
        run_relay(db=app.db, broker_url=broker, stop_event=stop_on_signals(), batch=batch,
                  confirm_timeout=timeout, heartbeat=amqp.heartbeat)
