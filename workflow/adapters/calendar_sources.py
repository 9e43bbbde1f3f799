"""Build a BusinessCalendar from TOML, the `holidays` package and .ics files.

The domain calendar only takes plain closure values; everything that reads files or knows a
holiday list lives here. The format is documented in docs/calendar.md; every error is a
ValueError naming the offending key, so a bad setting fails at start-up, not on the first ticket.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workflow.domain.calendar import (
    DEFAULT_TIMEZONE,
    BusinessCalendar,
    ClosedDay,
    ClosedPeriod,
    Window,
)
from workflow.domain.calendar_windows import WEEKDAYS

DEFAULT_CALENDAR_PATH = Path(__file__).resolve().parent.parent / "data" / "calendar.toml"
DEFAULT_YEARS = (2020, 2040)
_OBSERVED = re.compile(r"\s*\(observed\)$", re.IGNORECASE)
_KEYS: Mapping[str, frozenset[str]] = {
    "": frozenset({"calendar", "hours", "holidays", "closures"}),
    "calendar": frozenset({"timezone", "years", "ics"}),
    "hours": frozenset(WEEKDAYS),
    "holidays": frozenset({"country", "subdiv", "names", "observed"}),
    "closures": frozenset({"date", "start", "end", "reason"}),
}


def load_calendar(path: Path | None = None, *, overrides: str | None = None) -> BusinessCalendar:
    """Load a calendar file (None = the packaged default), with optional TOML text merged on top.

    Override tables merge key by key; any other value (arrays included) replaces the file's.
    Relative .ics paths resolve against the calendar file's directory.
    """
    source = path or DEFAULT_CALENDAR_PATH
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read calendar file {source}: {exc}") from exc
    data = _parse(text, str(source))
    if overrides:
        data = _merge(data, _parse(overrides, "calendar overrides"))
    return calendar_from_mapping(data, source.parent)


def calendar_from_toml_text(text: str, base_dir: Path) -> BusinessCalendar:
    """A calendar from TOML text; relative .ics paths resolve against base_dir."""
    return calendar_from_mapping(_parse(text, "calendar TOML"), base_dir)


def calendar_from_mapping(data: Mapping[str, Any], base_dir: Path) -> BusinessCalendar:
    """A calendar from already-parsed TOML data (see docs/calendar.md for the shape)."""
    _check_keys("", data)
    settings = _table(data, "calendar")
    _check_keys("calendar", settings)
    zone = _zone(settings.get("timezone", DEFAULT_TIMEZONE))
    first, last = _years(settings.get("years", list(DEFAULT_YEARS)))
    hours = _hours(_table(data, "hours"))
    days: list[ClosedDay] = []
    periods: list[ClosedPeriod] = []
    if "holidays" in data:
        days.extend(_holidays(_table(data, "holidays"), first, last))
    explicit_days, explicit_periods = _closures(data.get("closures", []))
    days.extend(explicit_days)
    periods.extend(explicit_periods)
    for name in _strings(settings.get("ics", []), "calendar.ics"):
        from workflow.adapters.calendar_ics import closures_from_ics  # icalendar: only if used

        ics_days, ics_periods = closures_from_ics(
            base_dir / name, first=date(first, 1, 1), last=date(last, 12, 31)
        )
        days.extend(ics_days)
        periods.extend(ics_periods)
    return BusinessCalendar(hours, timezone=zone, closed_days=days, closed_periods=periods)


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: invalid TOML: {exc}") from exc


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            merged[key] = _merge(below, value)
        else:
            merged[key] = value
    return merged


def _check_keys(table: str, data: Mapping[str, Any]) -> None:
    unknown = sorted(set(data) - _KEYS[table])
    if unknown:
        where = f"[{table}] " if table else ""
        allowed = ", ".join(sorted(_KEYS[table]))
        raise ValueError(f"calendar: unknown key {where}{unknown[0]!r} (allowed: {allowed})")


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(f"calendar: [{key}] must be a table")
    return value


def _strings(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"calendar: {key} must be a list of strings")
    return value


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"calendar: calendar.timezone {name!r} is not a known time zone") from exc


def _years(value: Any) -> tuple[int, int]:
    ok = isinstance(value, list) and len(value) == 2 and all(isinstance(y, int) for y in value)
    if not ok or value[0] > value[1]:
        raise ValueError(f"calendar: calendar.years must be [first, last], got {value!r}")
    return value[0], value[1]


def _hours(table: Mapping[str, Any]) -> dict[int, list[Window]]:
    _check_keys("hours", table)
    hours: dict[int, list[Window]] = {}
    for index, name in enumerate(WEEKDAYS):
        spans = _strings(table.get(name, []), f"hours.{name}")
        try:
            hours[index] = [Window.parse(span) for span in spans]
        except ValueError as exc:
            raise ValueError(f"calendar: hours.{name}: {exc}") from exc
    return hours


def _holidays(table: Mapping[str, Any], first: int, last: int) -> list[ClosedDay]:
    """Closed days for the named holidays; "X (observed)" closes too when `observed` is true."""
    import holidays  # a calendar without a [holidays] table never pays for its import

    _check_keys("holidays", table)
    country = table.get("country", "US")
    wanted = set(_strings(table.get("names", []), "holidays.names"))
    observed = table.get("observed", True)
    if not isinstance(observed, bool):
        raise ValueError("calendar: holidays.observed must be true or false")
    try:
        found = holidays.country_holidays(
            country, subdiv=table.get("subdiv"), years=range(first, last + 1), observed=observed
        )
    except NotImplementedError as exc:
        raise ValueError(f"calendar: holidays.country/subdiv: {exc}") from exc
    days: list[ClosedDay] = []
    seen: set[str] = set()
    for day, label in sorted(found.items()):
        for part in str(label).split("; "):
            base = _OBSERVED.sub("", part)
            seen.add(base)
            if base in wanted:
                days.append(ClosedDay(day, part))
    missing = sorted(wanted - seen)
    if missing:
        known = ", ".join(repr(name) for name in sorted(seen))
        raise ValueError(f"calendar: holidays.names: {missing[0]!r} is not one of {known}")
    return days


def _closures(entries: Any) -> tuple[list[ClosedDay], list[ClosedPeriod]]:
    if not isinstance(entries, list):
        raise ValueError("calendar: closures must be an array of tables ([[closures]])")
    days: list[ClosedDay] = []
    periods: list[ClosedPeriod] = []
    for index, entry in enumerate(entries):
        key = f"closures[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"calendar: {key} must be a table")
        _check_keys("closures", entry)
        reason = str(entry.get("reason", ""))
        if "date" in entry and not {"start", "end"} & set(entry):
            days.append(ClosedDay(_date(entry["date"], f"{key}.date"), reason))
        elif {"start", "end"} <= set(entry) and "date" not in entry:
            start = _datetime(entry["start"], f"{key}.start")
            end = _datetime(entry["end"], f"{key}.end")
            try:
                periods.append(ClosedPeriod(start, end, reason))
            except ValueError as exc:
                raise ValueError(f"calendar: {key}: {exc}") from exc
        else:
            raise ValueError(f"calendar: {key} needs either 'date' or both 'start' and 'end'")
    return days, periods


def _date(value: Any, key: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"calendar: {key} must be a date like 2026-12-24, got {value!r}") from None


def _datetime(value: Any, key: str) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"calendar: {key} must be a datetime like 2026-12-31T12:00:00") from None
