"""Dates and times spelt out for customers in English and French, without relying on the host's
locales (a server's locale is whatever its image ships; a customer's email must not depend on it).

Every time a customer reads is given in the desk's zone (Pacific time) and, when the request
named the customer's own IANA zone, in that zone too: a customer in Toronto told "09:00 PST"
must not have to do the arithmetic to know when the phone rings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_FR_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
              "septembre", "octobre", "novembre", "décembre")

PACIFIC: Final = ZoneInfo("America/Los_Angeles")
"""The desk's zone unless its calendar says otherwise."""


def long_date(day: date, language: str) -> str:
    """``Monday, March 2, 2026`` or ``lundi 2 mars 2026`` (``1er`` for the first of a month)."""
    if language == "fr":
        return f"{short_date(day, 'fr')} {day.year}"
    return f"{short_date(day, 'en')}, {day.year}"


def short_date(day: date, language: str) -> str:
    """``Monday, March 2`` or ``lundi 2 mars``: a date the reader places without its year."""
    if language == "fr":
        nth = "1er" if day.day == 1 else str(day.day)
        return f"{_FR_DAYS[day.weekday()]} {nth} {_FR_MONTHS[day.month - 1]}"
    return f"{_EN_DAYS[day.weekday()]}, {_EN_MONTHS[day.month - 1]} {day.day}"


def clock(local: datetime, language: str) -> str:
    """``09:30`` or ``09 h 30``."""
    return f"{local:%H} h {local:%M}" if language == "fr" else f"{local:%H:%M}"


def zone_named(name: object) -> ZoneInfo | None:
    """The zone a request named, or None when it named none (or one this host cannot load)."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def instant(text: str) -> datetime:
    """A time as events and pages carry it: ISO 8601, or ``2026-11-25 17:00 UTC`` (the
    ``utc_text`` of older events); naive means UTC. ``ValueError`` for anything else."""
    return _aware(datetime.fromisoformat(text.removesuffix(" UTC")))


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _desk_label(local: datetime, desk: ZoneInfo, language: str) -> str:
    if language == "fr":
        return "heure du Pacifique" if desk.key == PACIFIC.key else f"heure {desk.key}"
    return local.tzname() or desk.key


def _yours(start: datetime, end: datetime | None, desk_day: date, language: str,
           zone: ZoneInfo) -> str:
    """The customer's own time: ``13:00 your time, America/Toronto`` (their date first when it
    is not the desk's)."""
    a = start.astimezone(zone)
    day = f"{short_date(a.date(), language)}, " if a.date() != desk_day else ""
    if language == "fr":
        when = clock(a, "fr") if end is None else \
            f"de {clock(a, 'fr')} à {clock(end.astimezone(zone), 'fr')}"
        return f"{day}{when} chez vous, {zone.key}"
    when = clock(a, "en") if end is None else f"{clock(a, 'en')} to {clock(end.astimezone(zone), 'en')}"
    return f"{day}{when} your time, {zone.key}"


def customer_time(at: datetime, language: str, tz: str | ZoneInfo | None = None,
                  desk: ZoneInfo = PACIFIC) -> str:
    """``Tuesday, March 3, 2026 at 10:00 PST (13:00 your time, America/Toronto)`` or
    ``mardi 3 mars 2026 à 10 h 00 (heure du Pacifique ; 13 h 00 chez vous, America/Toronto)``.
    Without a (loadable) customer zone, the desk's time alone. A naive ``at`` is UTC."""
    local = _aware(at).astimezone(desk)
    zone = tz if isinstance(tz, ZoneInfo) else zone_named(tz)
    label = _desk_label(local, desk, language)
    yours = _yours(local, None, local.date(), language, zone) if zone else ""
    if language == "fr":
        extra = f" ; {yours}" if yours else ""
        return f"{long_date(local, 'fr')} à {clock(local, 'fr')} ({label}{extra})"
    extra = f" ({yours})" if yours else ""
    return f"{long_date(local, 'en')} at {clock(local, 'en')} {label}{extra}"


def customer_span(start: datetime, end: datetime, language: str,
                  tz: str | ZoneInfo | None = None, desk: ZoneInfo = PACIFIC) -> str:
    """A time slot: ``Monday, November 2, 2026, between 06:00 and 06:30 PST (09:00 to 09:30 your
    time, America/Toronto)``; French ``… entre 06 h 00 et 06 h 30 (heure du Pacifique ; de
    09 h 00 à 09 h 30 chez vous, America/Toronto)``."""
    a, b = _aware(start).astimezone(desk), _aware(end).astimezone(desk)
    zone = tz if isinstance(tz, ZoneInfo) else zone_named(tz)
    yours = _yours(a, b, a.date(), language, zone) if zone else ""
    if language == "fr":
        extra = f" ; {yours}" if yours else ""
        return (f"{long_date(a, 'fr')}, entre {clock(a, 'fr')} et {clock(b, 'fr')} "
                f"({_desk_label(a, desk, 'fr')}{extra})")
    extra = f" ({yours})" if yours else ""
    return (f"{long_date(a, 'en')}, between {clock(a, 'en')} and {clock(b, 'en')} "
            f"{_desk_label(b, desk, 'en')}{extra}")
