"""``resetdesk up``, ``serve`` and ``publish``: running the system and talking to it."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from resetdesk import instance
from resetdesk.bootstrap import App, bootstrap
from resetdesk.cli_common import (
    cli_settings,
    current_settings,
    fail,
    ops_listener,
    require_database,
    use_data_dir,
)
from resetdesk.logs import configure_logging, uvicorn_options
from resetdesk.settings import Settings
from workflow.adapters import accounts, migrate

LOCAL_PRODUCER = "local"
LOCAL_SOURCE = "urn:resetdesk:local"
TOKEN_FILE = "producer.token"


def _local_token(app: App, data_dir: Path) -> Path:
    """Make sure the local producer exists and its token is in ``data_dir/producer.token``."""
    path = data_dir / TOKEN_FILE
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if accounts.producer_for_token(app.db, token):
            return path
    if accounts.producer_by_name(app.db, LOCAL_PRODUCER):
        token = accounts.rotate_token(app.db, LOCAL_PRODUCER)
    else:
        token = accounts.add_producer(app.db, LOCAL_PRODUCER, LOCAL_SOURCE)
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _web(app: App, on_recorded: Any = None, process: str = "up") -> Any:
    from console.app import create_app
    from console.deps import WebDeps
    from resetdesk.ops import web_router

    deps = WebDeps(db=app.db, clock=app.clock, verifier=app.verifier, uow=app.uow,
                   secret_key=app.secret_key, public_url=app.settings.server.public_url,
                   policies=app.policies, relay_intake=not app.settings.embedded, bus=app.bus,
                   broker=app.broker_reader(), workers=app.settings.queue.workers)
    if on_recorded is not None:
        deps.on_recorded = on_recorded
    deps.dead_letters = _dead_letter_actions(app)
    return create_app(deps, [web_router(app, process)])


def _dead_letter_actions(app: App) -> Any:
    """Retry and discard for the dead-letter page; with a broker, archived letters are
    republished by the process's own broker user (it has the impersonator tag)."""
    from consumers.amqp.dlq import AmqpRepublisher
    from workflow.adapters.dead_letter_ops import SqlDeadLetterActions

    broker = app.settings.broker_url
    return SqlDeadLetterActions(app.db, AmqpRepublisher(broker) if broker else None)


def _public_url(settings: Settings) -> str:
    """$RESETDESK_SERVER__PUBLIC_URL, else the URL of the host and port (a wildcard bind is
    told)."""
    host, port = settings.server.host, settings.server.port
    if settings.server.public_url:
        return settings.server.public_url.rstrip("/")
    if instance.is_wildcard(host):
        typer.secho(f"warning: bound to {host!r}, links in emails use {instance.http_url(host, port)}; "
                    "set RESETDESK_SERVER__PUBLIC_URL to the address customers can open", err=True,
                    fg=typer.colors.YELLOW)
    return instance.http_url(host, port)


HostOpt = Annotated[str | None, typer.Option(help="listen address (default: settings, 127.0.0.1)")]
PortOpt = Annotated[int | None, typer.Option(help="listen port (default: settings, 8000)")]


def _server(host: str | None, port: int | None) -> dict[str, Any]:
    """``--host``/``--port`` as settings overrides (absent: the settings' own)."""
    given = {"host": host, "port": port}
    return {"server": {k: v for k, v in given.items() if v is not None}}


def up(
    data_dir: Annotated[Path | None, typer.Option(
        help="where the SQLite file, token and resetdesk.json live (default: $RESETDESK_DATA_DIR "
             "or .)")] = None,
    host: HostOpt = None,
    port: PortOpt = None,
) -> None:
    """Run everything in one process on SQLite: intake, workers, notifications."""
    import uvicorn

    use_data_dir(data_dir)
    settings_ = current_settings(**_server(host, port))
    data_dir, host, port = settings_.data_dir, settings_.server.host, settings_.server.port
    data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(settings_.logging, "up")
    if not settings_.embedded:
        fail("`up` is the embedded mode: unset RESETDESK_BROKER_URL, or run serve/consume/relay")
    public = _public_url(settings_)
    settings_ = settings_.with_server(public_url=public)
    app = bootstrap(settings_)
    app.ensure_secret_key(data_dir)
    url = settings_.resolved_database_url()
    migrate.upgrade(url)
    token_path = _local_token(app, data_dir)
    base = instance.http_url(host, port)
    instance_path = instance.write(data_dir, instance.Instance(
        public_url=public, local_url=base, host=host, port=port))
    runtime = app.embedded_runtime()
    runtime.start()
    from schedulers.runner import start_in_background

    config = app.scheduler_config()
    scheduler = start_in_background(db_url=url, retention=config.retention,
                                    attachment_retention=config.attachment_retention,
                                    db=app.db, config=config, clock=app.clock)
    typer.echo("ResetDesk is up (embedded mode: SQLite is the store and the queue)")
    typer.echo(f"  database      {url}")
    typer.echo(f"  intake        POST {base}/events  (producer '{LOCAL_PRODUCER}', source "
               f"{LOCAL_SOURCE}, token in {token_path})")
    typer.echo(f"  links         {public}  (recorded in {instance_path})")
    smtp = settings_.smtp
    mail = (f"smtp://{smtp.host}:{smtp.port}" if smtp.host
            else f"{(data_dir / 'mail').resolve()}/*.eml (set RESETDESK_SMTP__HOST to send)")
    typer.echo(f"  workers       {settings_.queue.workers} inbox workers, relay, notifications "
               f"-> {mail}")
    typer.echo(f"  scheduler     SLA scan every {config.interval_seconds:g} s, purge daily "
               f"(calendar: {settings_.sla.calendar_path or 'packaged default'})")
    where = shlex.quote(str(data_dir))
    typer.echo(f"  try it        uv run resetdesk publish --sample --data-dir {where} --url {base}")
    typer.echo(f"  tickets       uv run resetdesk tickets list --data-dir {where}")
    typer.echo("  stop          Ctrl-C")
    sys.stdout.flush()
    try:
        uvicorn.run(_web(app, runtime.wake), host=host, port=port,
                    **uvicorn_options(settings_.logging))
    finally:
        scheduler.stop()
        runtime.stop()
        app.close()


def scheduler() -> None:
    """Run the SLA scheduler (one leader among any number of these; PostgreSQL advisory lock)."""
    from schedulers.runner import run_scheduler

    configure_logging(current_settings().logging, "scheduler")
    configured = cli_settings()
    require_database(configured)
    app = bootstrap(configured)
    try:
        c = app.scheduler_config()
    except ValueError as err:  # no secret key for the links its reminders carry
        fail(str(err))
    typer.echo(f"ResetDesk scheduler on {c.db_url.split('@')[-1]}: SLA scan every "
               f"{c.interval_seconds:g} s, purge daily at {c.purge_hour_local:02d}:00")
    sys.stdout.flush()
    listener = ops_listener(app, "scheduler")
    try:
        run_scheduler(db_url=c.db_url, retention=c.retention,
                      attachment_retention=c.attachment_retention, config=c)
    finally:
        if listener is not None:
            listener.stop()
        app.close()


def serve(host: HostOpt = None, port: PortOpt = None) -> None:
    """Run the HTTP side alone (production: beside the consumers and the relay)."""
    import uvicorn

    configured = current_settings(**_server(host, port))
    configure_logging(configured.logging, "serve")
    configured = cli_settings(configured)
    host, port = configured.server.host, configured.server.port
    if configured.embedded:
        fail("`serve` is the production HTTP side: set RESETDESK_BROKER_URL (requests accepted "
             "over HTTP reach the verification consumers through `resetdesk relay`), or run "
             "`resetdesk up` for everything in one process on SQLite")
    require_database(configured)
    app = bootstrap(configured)
    try:
        web = _web(app, process="serve")
    except ValueError as err:
        fail(str(err))
    typer.echo(f"ResetDesk HTTP on http://{host}:{port} (database {app.settings.resolved_database_url()})")
    try:
        uvicorn.run(web, host=host, port=port, **uvicorn_options(app.settings.logging))
    finally:
        app.close()


def _publish_amqp(url: str, event: dict[str, Any], binary: bool) -> None:
    """AMQP: the producers' own pika client (confirms, mandatory, user_id = the URL's user)."""
    from schemas.client import PublishError
    from schemas.client import publish_request as amqp_publish
    from schemas.errors import ContractError

    try:
        amqp_publish(url, event, mode="binary" if binary else "structured")
    except ContractError as err:
        fail(f"the event is not valid: {err.reason}")
    except PublishError as err:
        fail(f"not published: {err}")
    typer.echo(json.dumps({"published": True, "id": event["id"], "source": event["source"]}))


def _intake_url(url: str | None, data_dir: Path) -> str:
    """--url, else where the ``up`` of ``data_dir`` listens, else the configured host and port."""
    if url:
        return url
    recorded = instance.read(data_dir)
    if recorded is not None:
        return recorded.local_url
    server = current_settings().server
    return instance.http_url(server.host, server.port)


def publish(
    file: Annotated[Path | None, typer.Argument(help="a structured-mode CloudEvent JSON file")] = None,
    sample: Annotated[bool, typer.Option("--sample", help="send a valid sample request")] = False,
    serial: Annotated[str | None, typer.Option(
        help="--sample: this device serial (default: a fresh one each time, so no duplicate)")] = None,
    print_only: Annotated[bool, typer.Option("--print", help="print the event, send nothing")] = False,
    url: Annotated[str | None, typer.Option(
        help="http(s)://host:port of the intake, or amqp://user:pass@host/vhost "
             "(default: where `up` in --data-dir listens)")] = None,
    token: Annotated[str | None, typer.Option(help="producer token (default: producer.token)")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="where `up` wrote producer.token and resetdesk.json (default: $RESETDESK_DATA_DIR "
             "or .)")] = None,
    binary: Annotated[bool, typer.Option(help="binary content mode (ce- headers)")] = False,
) -> None:
    """Send one request to a running ResetDesk; never writes the database itself."""
    from schemas.sample import SAMPLE_MODEL, full_serial, sample_request, unique_serial

    if (file is None) == (not sample):
        fail("give a FILE or --sample")
    if serial is not None and not sample:
        fail("--serial goes with --sample")
    data_dir = data_dir or current_settings().data_dir
    event: dict[str, Any]
    if sample:
        try:
            device_serial = full_serial(SAMPLE_MODEL, serial) if serial else unique_serial()
        except ValueError as err:
            fail(str(err))
        event = sample_request(source=LOCAL_SOURCE, data__device__serial_number=device_serial)
    else:
        event = json.loads(Path(file).read_text(encoding="utf-8"))  # type: ignore[arg-type]
    if print_only:
        typer.echo(json.dumps(event, indent=2, ensure_ascii=False))
        return
    target = _intake_url(url, data_dir)
    if target.startswith(("amqp://", "amqps://")):
        _publish_amqp(target, event, binary)
        return
    if not target.startswith(("http://", "https://")):
        fail(f"unsupported URL {target!r}: use http(s):// or amqp(s)://")
    if token is None:
        token_file = data_dir / TOKEN_FILE
        if not token_file.exists():
            fail(f"no --token and no {token_file}: start `resetdesk up` first or pass --token")
        token = token_file.read_text(encoding="utf-8").strip()
    _post(target, event, token, binary)


def _post(target: str, event: dict[str, Any], token: str, binary: bool) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    if binary:
        data = event.pop("data")
        headers |= {f"ce-{k}": str(v) for k, v in event.items()}
        headers["content-type"] = "application/json"
        body = json.dumps(data).encode()
    else:
        headers["content-type"] = "application/cloudevents+json"
        body = json.dumps(event).encode()
    try:
        response = httpx.post(target.rstrip("/") + "/events", content=body, headers=headers,
                              timeout=30)
    except httpx.HTTPError as err:
        fail(f"could not reach {target}: {err}")
    typer.echo(json.dumps(response.json(), indent=2))
    if response.status_code != 202:
        raise typer.Exit(1)
