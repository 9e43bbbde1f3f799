"""``resetdesk tickets remote-code`` and ``tickets end-session``: the agent's remote-session
commands from a shell (plain functions; ``cli.py`` registers them on the ``tickets`` app)."""

from __future__ import annotations

from typing import Annotated

import typer

from resetdesk.bootstrap import App
from resetdesk.cli_common import app_context, fail, staff
from workflow.adapters import queries
from workflow.service.commands import EndRemoteSession, OfferRemoteCode


def _secret(app: App) -> bytes:
    """The key the web side checks codes with: embedded mode shares data_dir/secret.key."""
    if not app.settings.secret_key and app.settings.embedded:
        app.ensure_secret_key(app.settings.data_dir)
    try:
        return app.secret_key
    except ValueError as err:
        fail(str(err))


def remote_code(
    ticket: Annotated[str, typer.Argument(help="ticket id or reference (RD-XXXX-XXXX)")],
    as_agent: Annotated[str, typer.Option("--as", help="agent login (must hold the ticket)")],
    expected_version: Annotated[int | None, typer.Option(help="refuse if changed since")] = None,
) -> None:
    """Issue a one-time remote-session code (any older one is revoked); it is shown only here."""
    with app_context() as app:
        _secret(app)  # before the bus is built: it signs with this key
        actor = staff(app, as_agent)
        ticket_id = queries.ticket_details(app.db, ticket)["id"]
        issued = app.bus.handle(OfferRemoteCode(actor=actor, ticket_id=ticket_id,
                                                expected_version=expected_version))
    typer.echo(f"{issued.ticket.reference}: remote-session code {issued.code}")
    typer.echo(f"valid until {issued.expires_at:%Y-%m-%d %H:%M}Z, once; it is not stored in "
               "clear and cannot be shown again")


def end_session(
    ticket: Annotated[str, typer.Argument(help="ticket id or reference")],
    as_agent: Annotated[str, typer.Option("--as", help="agent login")],
    reason: Annotated[str, typer.Option(help="why it ended (kept in the audit trail)")],
    resolved: Annotated[bool, typer.Option("--resolved", help="close the ticket resolved "
                                           "(default: back to the queue)")] = False,
    expected_version: Annotated[int | None, typer.Option(help="refuse if changed since")] = None,
) -> None:
    """End the ticket's remote session; the customer is reminded to close the tool."""
    if not reason.strip():
        fail("--reason must not be empty")
    with app_context() as app:
        actor = staff(app, as_agent)
        ticket_id = queries.ticket_details(app.db, ticket)["id"]
        result = app.bus.handle(EndRemoteSession(
            actor=actor, ticket_id=ticket_id, resolved=resolved, reason=reason.strip()[:500],
            expected_version=expected_version))
    typer.echo(f"{result.reference}: end_remote_session -> {result.state.value}"
               + (f" ({result.outcome.value})" if result.outcome else "")
               + f" (version {result.version})")
