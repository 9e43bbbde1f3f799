"""Each process's ops endpoints, wired: what ``/readyz`` checks and which stored figures
``/metrics`` adds to the process's own counters (docs/monitoring.md).

The long-running processes without a web side (consumers, relay, scheduler, archiver) get the
listener of :mod:`telemetry.server` on ``RESETDESK_OPS__PORT``; ``up`` and ``serve`` answer on
their own port through :func:`web_router`. The stored figures are read by one process of each
kind that owns them (the relay the outbox, the scheduler the tickets, the archiver the
dead-letter archive and the broker queues; the console all of them), so the consumers, which
run in many copies, add no queries to a scrape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from resetdesk.bootstrap import App
from telemetry import collectors
from telemetry.server import Check, OpsServer, readiness
from workflow.adapters import migrate
from workflow.adapters.queries import ops_figures

#: process -> the stored figures it exports (``ops_figures.ALL`` names them)
FIGURES: Final[dict[str, tuple[str, ...]]] = {
    "up": ops_figures.ALL,
    "serve": ("outbox", "tickets", "dead_letters"),
    "relay": ("outbox",),
    "scheduler": ("tickets",),
    "dlq-archive": ("dead_letters",),
}
#: processes that also report the broker's queues (depth, consumers)
BROKER_FIGURES: Final = frozenset({"dlq-archive"})


def checks(app: App) -> dict[str, Check]:
    """Database reachable, migrations at head, and (production) the broker reachable."""
    db = app.db

    def database() -> None:
        with db.reader.connect() as conn:
            conn.execute(text("SELECT 1"))

    def migrations() -> None:
        missing = migrate.missing(db)
        if missing:
            raise RuntimeError(f"database not at the code's revision {', '.join(missing)}: run "
                               "`resetdesk db upgrade`")

    found: dict[str, Check] = {"database": database, "migrations": migrations}
    broker_url = app.settings.broker_url
    if broker_url:
        from consumers.amqp.queue_figures import ping

        found["broker"] = lambda: ping(broker_url)
    return found


def install_figures(app: App, process: str) -> None:
    sources: dict[str, Callable[[], collectors.Reading]] = {}
    parts = FIGURES.get(process, ())
    if parts:
        sources["database"] = lambda: ops_figures.read(app.db, parts)
    broker_url = app.settings.broker_url
    if process in BROKER_FIGURES and broker_url:
        from consumers.amqp.queue_figures import broker_figures

        sources["broker"] = lambda: broker_figures(broker_url)
    if sources:
        collectors.install(sources)


def start_listener(app: App, process: str) -> OpsServer | None:
    """The ops listener on ``RESETDESK_OPS__PORT``, started; None when the port is 0. A
    ValueError says, in one line, when it cannot listen there."""
    ops = app.settings.ops
    if not ops.port:
        return None
    install_figures(app, process)
    try:
        server = OpsServer(ops.host, ops.port, process=process, checks=checks(app))
    except OSError as err:  # the port is taken, or the address is not this host's
        raise ValueError(f"RESETDESK_OPS__PORT: cannot listen on {ops.host}:{ops.port} "
                         f"({err.strerror or err})") from None
    return server.start()


def web_router(app: App, process: str) -> APIRouter:
    """``/metrics`` and ``/readyz`` for the console (it answers ``/healthz`` itself)."""
    install_figures(app, process)
    ready_checks = checks(app)
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/readyz")
    def readyz() -> JSONResponse:
        ok, results = readiness(ready_checks)
        return JSONResponse({"ready": ok, "process": process, "checks": results},
                            status_code=200 if ok else 503)

    return router
