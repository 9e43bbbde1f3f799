"""``resetdesk tickets send-key``: return a reset artifact to the customer from a shell."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated

import typer

from resetdesk.cli_common import app_context, fail, staff
from workflow.adapters import queries
from workflow.domain.reset_keys import KINDS, new_artifact
from workflow.service.commands import SendKey


def send_key_command(
    ticket: Annotated[str, typer.Argument(help="ticket id or reference (RD-XXXX-XXXX)")],
    as_agent: Annotated[str, typer.Option("--as", help="agent login (must hold the ticket)")],
    kind: Annotated[str | None, typer.Option(
        help=f"one of: {', '.join(KINDS)} (default with --file: encrypted_file)")] = None,
    text: Annotated[str | None, typer.Option(help="the security codes or the key")] = None,
    file: Annotated[Path | None, typer.Option(
        help="the encrypted file", exists=True, dir_okay=False, readable=True)] = None,
    expected_version: Annotated[int | None, typer.Option(help="refuse if changed since")] = None,
) -> None:
    """Send the reset artifact: the customer gets it in their language, with its validity."""
    if (text is None) == (file is None):
        fail("give either --text (security_codes, key) or --file (encrypted_file)")
    if kind is None:
        if file is None:
            fail("--text needs --kind security_codes or --kind key")
        kind = "encrypted_file"
    with app_context() as app:
        s = app.settings
        if s.embedded:
            app.ensure_secret_key(s.data_dir)
        try:
            app.secret_key  # noqa: B018 -- refuse early, with the setting to set
        except ValueError as err:
            fail(str(err))
        actor = staff(app, as_agent)
        policy = app.policies.keys
        if file is not None:
            if file.stat().st_size > policy.max_file_bytes:
                fail(f"the file is larger than {policy.max_file_bytes} bytes")
            artifact = new_artifact(kind, content=file.read_bytes(), filename=file.name,
                                    media_type=mimetypes.guess_type(file.name)[0],
                                    max_file_bytes=policy.max_file_bytes)
        else:
            artifact = new_artifact(kind, text=text)
        ticket_id = queries.ticket_details(app.db, ticket)["id"]
        result = app.bus.handle(SendKey(
            actor=actor, ticket_id=ticket_id, artifact=artifact, expected_version=expected_version,
            link_base=f"http://{s.server.host}:{s.server.port}"))
    waiting = result.waiting_on.value if result.waiting_on else "-"
    typer.echo(f"{result.reference}: {kind} sent, waiting on {waiting} (version {result.version})")
