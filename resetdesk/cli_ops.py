"""Operations commands: the business calendar, the retention purge."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from resetdesk.cli_common import app_context, current_settings, fail
from workflow.adapters.calendar_sources import load_calendar
from workflow.domain.calendar import BusinessCalendar

calendar_cli = typer.Typer(help="The business calendar behind the SLA clocks.",
                           no_args_is_help=True)


def _calendar() -> BusinessCalendar:
    try:
        return load_calendar(current_settings().sla.calendar_path)
    except (OSError, ValueError) as err:
        fail(f"calendar: {err}")


def _parse_start(text: str, cal: BusinessCalendar) -> datetime:
    try:
        start = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO-8601 date-time: {text.strip()!r}") from None
    return start.replace(tzinfo=cal.zone) if start.tzinfo is None else start


@calendar_cli.command()
def due(
    start: Annotated[str, typer.Option(help="ISO-8601 start; no offset = calendar's zone; "
                                            "'-' reads one start per line from stdin")],
    hours: Annotated[str, typer.Option(help="business hours to add, decimal (e.g. 0.5)")],
) -> None:
    """Print the due time: the earliest instant with HOURS of business time after START."""
    try:
        budget = Decimal(hours)
    except InvalidOperation:
        fail(f"--hours must be a decimal number, not {hours!r}")
    if budget < 0:
        fail("--hours must not be negative")
    duration = timedelta(seconds=float(budget * 3600))
    cal = _calendar()
    lines = sys.stdin if start == "-" else [start]
    bad = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            typer.echo(cal.add_business_time(_parse_start(line, cal), duration).isoformat())
        except ValueError as err:
            bad += 1
            typer.echo(f"error: line {n}: {err}", err=True)
    if bad:
        raise typer.Exit(1)


@calendar_cli.command()
def show() -> None:
    """Working windows, time zone and the closures of the next twelve months."""
    typer.echo(_calendar().describe())


@calendar_cli.command()
def reload() -> None:
    """Recompute the due times of open tickets under the calendar file as it is now."""
    from workflow.service.sla_service import recompute_open_clocks

    with app_context() as app:
        changed = recompute_open_clocks(app.uow)
    typer.echo(f"recomputed {changed} open ticket(s)")


def purge() -> None:
    """Anonymise closed tickets past retention and purge their attachments (audited)."""
    from workflow.adapters.purge import purge as run_purge

    with app_context() as app:
        kept = app.settings.retention
        report = run_purge(app.db, now=app.clock.now(), retention=timedelta(days=kept.days),
                           attachment_retention=timedelta(days=kept.attachment_days))
    for name, value in vars(report).items():
        typer.echo(f"{name.replace('_', ' ')}: {value}")
