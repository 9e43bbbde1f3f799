"""``resetdesk tickets callback …`` and ``tickets callback-result …``: the phone-callback path
from a shell. Plain functions; ``cli_tickets`` registers them on the ``tickets`` app."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from resetdesk.cli_common import app_context, fail, staff
from workflow.adapters import queries
from workflow.domain.callback_slots import ATTEMPT_RESULTS, PreferredWindow
from workflow.service.callback_ports import Booked
from workflow.service.commands import (
    BookCallback,
    MoveCallback,
    RecordCallResult,
    RequestCallback,
)

WINDOW_HELP = "preferred window 'YYYY-MM-DD HH:MM-HH:MM' in the calendar's zone"


def _window(text: str | None) -> PreferredWindow | None:
    try:
        return PreferredWindow.parse(text) if text else None
    except ValueError as err:
        fail(str(err))


def _echo(done: Booked, what: str) -> None:
    t = done.ticket
    line = f"{t.reference}: {what} -> {t.state.value} (version {t.version})"
    if done.booking is not None:
        line += f"; callback {done.booking.slot.start:%Y-%m-%d %H:%M}Z seat {done.booking.seat}"
    typer.echo(line)


def callback(
    ticket: Annotated[str, typer.Argument(help="ticket id or reference")],
    as_agent: Annotated[str, typer.Option("--as", help="agent login")],
    window: Annotated[str | None, typer.Option(help=WINDOW_HELP)] = None,
    expected_version: Annotated[int | None, typer.Option(help="refuse if changed since")] = None,
) -> None:
    """Book a phone callback for a queued ticket (next free slot, or inside --window) and
    email the customer the time."""
    preferred = _window(window)
    with app_context() as app:
        actor = staff(app, as_agent)
        ticket_id = queries.ticket_details(app.db, ticket)["id"]
        done = app.bus.handle(RequestCallback(actor=actor, ticket_id=ticket_id, window=preferred,
                                              expected_version=expected_version))
    _echo(done, "request_callback")


def book_callback(
    ticket: Annotated[str, typer.Argument(help="ticket id or reference")],
    as_agent: Annotated[str, typer.Option("--as", help="agent login")],
    window: Annotated[str | None, typer.Option(help=WINDOW_HELP)] = None,
    expected_version: Annotated[int | None, typer.Option(help="refuse if changed since")] = None,
) -> None:
    """Book a new slot for a callback the customer gave back (next free slot, or inside
    --window), on the customer's behalf, and email them the time."""
    preferred = _window(window)
    with app_context() as app:
        actor = staff(app, as_agent)
        ticket_id = queries.ticket_details(app.db, ticket)["id"]
        done = app.bus.handle(BookCallback(actor=actor, ticket_id=ticket_id, window=preferred,
                                           expected_version=expected_version))
    _echo(done, "book_callback")


def move_callback(
    ticket: Annotated[str, typer.Argument(help="ticket id or reference")],
    as_agent: Annotated[str, typer.Option("--as", help="agent login")],
    slot: Annotated[str | None, typer.Option(help="a free slot's start, ISO 8601 with offset")]
    = None,
    window: Annotated[str | None, typer.Option(help=WINDOW_HELP)] = None,
    reason: Annotated[str | None, typer.Option(help="why (required to release)")] = None,
    expected_version: Annotated[int | None, typer.Option(help="refuse if changed since")] = None,
) -> None:
    """Give the booked callback back for the customer: with --slot or --window book the new
    time at once; without, release it (--reason required): the customer is emailed a link to
    pick another time."""
    preferred = _window(window)
    try:
        start = datetime.fromisoformat(slot) if slot else None
    except ValueError:
        fail(f"--slot {slot!r} is not an ISO 8601 date and time")
    if start is not None and start.tzinfo is None:
        fail("--slot needs a time zone offset")
    with app_context() as app:
        actor = staff(app, as_agent)
        ticket_id = queries.ticket_details(app.db, ticket)["id"]
        done = app.bus.handle(MoveCallback(actor=actor, ticket_id=ticket_id, window=preferred,
                                           slot_start=start, reason=reason,
                                           expected_version=expected_version))
    _echo(done, "move_callback")


def callback_result(
    ticket: Annotated[str, typer.Argument(help="ticket id or reference")],
    result: Annotated[str, typer.Argument(help=" | ".join(ATTEMPT_RESULTS))],
    as_agent: Annotated[str, typer.Option("--as", help="agent login")],
    note: Annotated[str | None, typer.Option(help="internal note for other agents")] = None,
    window: Annotated[str | None, typer.Option(help=f"asked_to_move: {WINDOW_HELP}")] = None,
    expected_version: Annotated[int | None, typer.Option(help="refuse if changed since")] = None,
) -> None:
    """Record one call: answered (back to queued), no_answer / wrong_number (next slot, or the
    exhausted policy), asked_to_move (next slot or --window)."""
    if result not in ATTEMPT_RESULTS:
        fail(f"unknown result {result!r}; use one of: {', '.join(ATTEMPT_RESULTS)}")
    preferred = _window(window)
    with app_context() as app:
        actor = staff(app, as_agent)
        ticket_id = queries.ticket_details(app.db, ticket)["id"]
        done = app.bus.handle(RecordCallResult(actor=actor, ticket_id=ticket_id, result=result,
                                               note=note, window=preferred,
                                               expected_version=expected_version))
    _echo(done, f"callback_result {result} ({done.step})")
