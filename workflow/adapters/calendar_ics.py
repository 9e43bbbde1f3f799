"""Closures read from an iCalendar (.ics) file.

All-day VEVENTs close whole days; timed ones close a period. Recurring events (RRULE, RDATE,
EXDATE, and RECURRENCE-ID overrides) are expanded within a range of years, in the wall time of the
event's own zone as RFC 5545 asks; an UNTIL given in UTC is read as that wall time, which can move
the last occurrence by at most the UTC offset. Cancelled events close nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path

import icalendar
from dateutil.rrule import rrulestr  # type: ignore[import-untyped]  # icalendar depends on it

from workflow.domain.calendar import ClosedDay, ClosedPeriod

_DAY = timedelta(days=1)


def closures_from_ics(path: Path, *, first: date, last: date) -> tuple[list[ClosedDay], list[ClosedPeriod]]:
    """Days and periods closed by the events of one .ics file; recurrences in [first, last]."""
    try:
        parsed = icalendar.Calendar.from_ical(path.read_bytes())
        events = [event for event in parsed.walk("VEVENT") if isinstance(event, icalendar.Event)]
    except (OSError, ValueError) as exc:
        raise ValueError(f"calendar.ics: cannot read {path}: {exc}") from exc
    overridden: dict[str, list[date]] = {}
    for event in events:
        if event.get("RECURRENCE-ID") is not None:
            overridden.setdefault(str(event.get("UID")), []).append(event.decoded("RECURRENCE-ID"))
    days: list[ClosedDay] = []
    periods: list[ClosedPeriod] = []
    for event in events:
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        try:
            start = event.start
            length = _length(event, start)
            skipped = overridden.get(str(event.get("UID")), [])
            starts = _occurrences(event, start, skipped, first, last)
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"calendar.ics: bad event {event.get('SUMMARY')!r} in {path}: {exc}") from exc
        reason = str(event.get("SUMMARY", "")) or path.name
        for occurrence in starts:
            if isinstance(occurrence, datetime):
                if length > timedelta(0):
                    periods.append(ClosedPeriod(occurrence, occurrence + length, reason))
            else:
                count = max(1, length.days)
                days.extend(ClosedDay(occurrence + n * _DAY, reason) for n in range(count))
    return days, periods


def _length(event: icalendar.Event, start: date) -> timedelta:
    try:
        end: date = event.end
    except (icalendar.error.IncompleteComponent, icalendar.error.InvalidCalendar):
        return timedelta(0) if isinstance(start, datetime) else _DAY
    return end - start


def _occurrences(
    event: icalendar.Event, start: date, skipped: Iterable[date], first: date, last: date
) -> list[date]:
    """Occurrence starts: the event itself, or its recurrences inside [first, last]."""
    rrules = list(event.rrules)
    rdates = [rdate for rdate, _ in event.rdates]
    if not rrules and not rdates:
        return [start]
    zone = start.tzinfo if isinstance(start, datetime) else None
    lines = ["RRULE:" + rule.to_ical().decode() for rule in rrules]
    recurrence = rrulestr("\n".join(lines), dtstart=_wall(start, zone), forceset=True, ignoretz=True)
    if not rrules:
        recurrence.rdate(_wall(start, zone))
    for extra in rdates:
        recurrence.rdate(_wall(extra, zone))
    for excluded in [*event.exdates, *skipped]:
        recurrence.exdate(_wall(excluded, zone))
    window_start = datetime.combine(first, time())
    window_end = datetime.combine(last + _DAY, time())
    found: list[datetime] = recurrence.between(window_start, window_end, inc=True)
    if isinstance(start, datetime):
        return [occurrence.replace(tzinfo=zone) for occurrence in found]
    return [occurrence.date() for occurrence in found]


def _wall(value: date, zone: tzinfo | None) -> datetime:
    """A naive wall time in the event's zone, which is what the recurrence rules count in."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time())
    if value.tzinfo is not None and zone is not None:
        value = value.astimezone(zone)
    return value.replace(tzinfo=None)
