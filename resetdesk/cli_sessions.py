"""``resetdesk tickets remote-code`` and ``tickets end-session``: the agent's remote-session
commands from a shell (plain functions; ``cli.py`` registers them on the ``tickets`` app)."""

from __future__ import annotations

from typing import Annotated

import typer

from resetdesk.bootstrap import App
from resetdesk.cli_common import app_context, fail
from workflow.adapters import queries
from workflow.adapters.session_store import store_for
from workflow.domain.session_codes import OPTION_NAMES, SessionPolicy
from workflow.service.remote_sessions import end_session as end_remote_session
from workflow.service.remote_sessions import issue_code


def _secret(app: App) -> bytes:
    """The key the web side checks codes with: embedded mode shares data_dir/secret.key."""
    if not app.settings.secret_key and app.settings.embedded:
        app.ensure_secret_key(app.settings.data_dir)
    try:
        return app.secret_key
    except ValueError as err:
        fail(str(err))


def _policy(app: App) -> SessionPolicy:
    values = app.settings.model_dump()
    return SessionPolicy.from_options({k: values[k] for k in OPTION_NAMES if k in values})


def remote_code(
    ticket: Annotated[str, typer.Argument(help="ticket id or reference (RD-XXXX-XXXX)")],
    as_agent: Annotated[str, typer.Option("--as", help="agent login (must hold the ticket)")],
    expected_version: Annotated[int | None, typer.Option(help="refuse if changed since")] = None,
) -> None:
    """Issue a one-time remote-session code (any older one is revoked); it is shown only here."""
    with app_context() as app:
        ticket_id = queries.ticket_details(app.db, ticket)["id"]
        issued = issue_code(app.uow(), app.clock, store_for, ticket_id=ticket_id,
                            agent=as_agent, secret=_secret(app), policy=_policy(app),
                            expected_version=expected_version)
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
        ticket_id = queries.ticket_details(app.db, ticket)["id"]
        result = end_remote_session(app.uow(), app.clock, store_for, ticket_id=ticket_id,
                                    actor=f"agent:{as_agent}", resolved=resolved,
                                    reason=reason.strip()[:500],
                                    expected_version=expected_version)
    typer.echo(f"{result.reference}: end_remote_session -> {result.state.value}"
               + (f" ({result.outcome.value})" if result.outcome else "")
               + f" (version {result.version})")
