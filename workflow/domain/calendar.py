"""The business calendar: which instants count as working time, and clock arithmetic over them.

Business time is elapsed real time inside working windows. Windows are written in local wall time
and owned by the weekday they start on; each bound is turned into an instant with `zoneinfo` and
fold=0 and all measuring happens in UTC. So DST never moves a window, but it does change its
length: 00:30-03:30 is 2h of real time on the spring-forward day and 4h on the fall-back day. A
bound that does not exist (inside the spring gap) lands after the gap (02:30 -> 03:30 PDT); an
ambiguous one takes its first occurrence.

Windows are half-open [start, end), and every answer is the earliest instant that satisfies it,
so a due time may equal a window end (16:30) but never falls inside a closed period.

Pure: standard library only. Closures arrive as plain values built by an adapter.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from workflow.domain.calendar_windows import (
    WEEKDAYS,
    ClosedDay,
    ClosedPeriod,
    Window,
    normalise_week,
)

__all__ = ["DEFAULT_TIMEZONE", "BusinessCalendar", "ClosedDay", "ClosedPeriod", "Window"]

DEFAULT_TIMEZONE = "America/Los_Angeles"
_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)
_ZERO = timedelta(0)
_MAX_CLOSED_DAYS = 3 * 366
_Interval = tuple[datetime, datetime]


class BusinessCalendar:
    """Working windows per weekday in one time zone, minus whole-day and partial closures.

    Immutable after construction. The open intervals of each local date are built lazily and kept
    in a small LRU cache, so the arithmetic walks windows day by day instead of stepping minutes.
    """

    __slots__ = (
        "_closed_days",
        "_day_intervals",
        "_hours",
        "_longest_period",
        "_period_starts",
        "_periods",
        "_zone",
    )

    def __init__(
        self,
        hours: Mapping[int, Iterable[Window]],
        *,
        timezone: str | ZoneInfo = DEFAULT_TIMEZONE,
        closed_days: Iterable[ClosedDay | date] = (),
        closed_periods: Iterable[ClosedPeriod] = (),
        cache_size: int = 1024,
    ) -> None:
        self._zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
        self._hours = normalise_week(hours)
        days = (d if isinstance(d, ClosedDay) else ClosedDay(d) for d in closed_days)
        self._closed_days: dict[date, ClosedDay] = {}
        for closed in sorted(days, key=lambda c: c.day):
            self._closed_days.setdefault(closed.day, closed)
        self._periods = tuple(
            sorted(
                ((self._to_utc(p.start), self._to_utc(p.end), p) for p in closed_periods),
                key=lambda item: (item[0], item[1]),
            )
        )
        self._period_starts = [start for start, _, _ in self._periods]
        self._longest_period = max((end - start for start, end, _ in self._periods), default=_ZERO)
        self._day_intervals = lru_cache(maxsize=cache_size)(self._build_day)

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def hours(self) -> tuple[tuple[Window, ...], ...]:
        """Seven tuples of windows, Monday first."""
        return self._hours

    @property
    def closed_days(self) -> tuple[ClosedDay, ...]:
        return tuple(self._closed_days.values())

    @property
    def closed_periods(self) -> tuple[ClosedPeriod, ...]:
        return tuple(p for _, _, p in self._periods)

    def is_open(self, t: datetime) -> bool:
        """True if t lies inside a working window ([start, end): the end itself is closed)."""
        u = _utc(t)
        day = u.astimezone(self._zone).date()
        for owner in (day - _DAY, day):
            for start, end in self._day_intervals(owner):
                if start <= u < end:
                    return True
        return False

    def next_opening(self, t: datetime) -> datetime:
        """The earliest open instant at or after t (t itself when open), in the calendar zone."""
        for start, _ in self._open_from(_utc(t)):
            return start.astimezone(self._zone)
        raise AssertionError("unreachable: _open_from never ends")  # pragma: no cover

    def open_until(self, t: datetime) -> datetime | None:
        """When the open stretch containing t closes (None when closed at t; at most a week
        ahead for a desk that never closes): with ``next_opening`` it tells a live countdown
        when to stop or start ticking."""
        u = _utc(t)
        until: datetime | None = None
        for start, end in self._open_from(u):
            if start != (until or u) or (until and until - u > _WEEK):
                break
            until = end  # adjacent windows (a night shift past midnight) are one stretch
        return until.astimezone(self._zone) if until else None

    def add_business_time(self, t: datetime, duration: timedelta) -> datetime:
        """The earliest instant at which `duration` of business time has elapsed since t.

        A closed start counts from the next opening; add(t, 0) is t itself, open or not.
        """
        if duration < _ZERO:
            raise ValueError(f"duration must not be negative, got {duration}")
        u = _utc(t)
        if not duration:
            return u.astimezone(self._zone)
        remaining = duration
        for start, end in self._open_from(u):
            span = end - start
            if remaining <= span:
                return (start + remaining).astimezone(self._zone)
            remaining -= span
        raise AssertionError("unreachable: _open_from never ends")  # pragma: no cover

    def business_time_between(self, t1: datetime, t2: datetime) -> timedelta:
        """Business time elapsed from t1 to t2; negative when t2 is before t1 (like subtraction)."""
        u1, u2 = _utc(t1), _utc(t2)
        if u2 < u1:
            return -self.business_time_between(t2, t1)
        total = _ZERO
        for start, end in self._open_from(u1):
            if start >= u2:
                break
            total += min(end, u2) - start
        return total

    def describe(self, since: date | None = None) -> str:
        """Human summary for `resetdesk calendar show`: weekly windows, zone, next 12 months."""
        first = since or datetime.now(self._zone).date()
        last = first + timedelta(days=365)
        lines = [f"Business calendar ({self._zone.key})"]
        for name, windows in zip(WEEKDAYS, self._hours, strict=True):
            shown = ", ".join(str(w) for w in windows) or "closed"
            lines.append(f"  {name.capitalize()}  {shown}")
        lines.append(f"Closures {first} .. {last - _DAY}:")
        closures: list[tuple[date, str]] = [
            (c.day, f"  {c.day} {c.day:%a}  {c.reason}".rstrip())
            for c in self._closed_days.values()
            if first <= c.day < last
        ]
        for start, end, period in self._periods:
            local_start, local_end = start.astimezone(self._zone), end.astimezone(self._zone)
            if local_start.date() < last and local_end.date() >= first:
                span = f"{local_start:%Y-%m-%d %H:%M} - {local_end:%Y-%m-%d %H:%M}"
                closures.append((local_start.date(), f"  {span}  {period.reason}".rstrip()))
        lines.extend(line for _, line in sorted(closures, key=lambda item: item[0]))
        return "\n".join(lines if closures else [*lines, "  none"])

    def __str__(self) -> str:
        return self.describe()

    def __repr__(self) -> str:
        return f"BusinessCalendar(timezone={self._zone.key!r})"

    def _to_utc(self, t: datetime) -> datetime:
        """Local wall time (fold=0) or aware datetime -> UTC."""
        if t.tzinfo is None:
            t = t.replace(tzinfo=self._zone, fold=0)
        return t.astimezone(UTC)

    def _build_day(self, owner: date) -> tuple[_Interval, ...]:
        """Open UTC intervals of the windows owned by one local date, closures cut out."""
        if owner in self._closed_days:
            return ()
        pieces: list[_Interval] = []
        midnight = datetime(owner.year, owner.month, owner.day)
        for window in self._hours[owner.weekday()]:
            start = self._to_utc(midnight + window.start_offset)
            end = self._to_utc(midnight + window.end_offset)
            if start < end:
                pieces.extend(self._cut_closures(start, end))
        pieces.sort()
        merged: list[_Interval] = []
        for start, end in pieces:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return tuple(merged)

    def _cut_closures(self, start: datetime, end: datetime) -> list[_Interval]:
        pieces = [(start, end)]
        first = bisect.bisect_left(self._period_starts, start - self._longest_period)
        last = bisect.bisect_left(self._period_starts, end)
        for closed_start, closed_end, _ in self._periods[first:last]:
            kept: list[_Interval] = []
            for a, b in pieces:
                if closed_end <= a or closed_start >= b:
                    kept.append((a, b))
                    continue
                if a < closed_start:
                    kept.append((a, closed_start))
                if closed_end < b:
                    kept.append((closed_end, b))
            pieces = kept
        return pieces

    def _open_from(self, u: datetime) -> Iterator[_Interval]:
        """Disjoint open intervals in time order, clipped to begin at or after u.

        Starts one local day early because the previous day's night window may still be running.
        """
        day = u.astimezone(self._zone).date() - _DAY
        cursor = u
        idle = 0
        while True:
            intervals = self._day_intervals(day)
            for start, end in intervals:
                start = max(start, cursor)
                if start < end:
                    cursor = end
                    yield start, end
            idle = 0 if intervals else idle + 1
            if idle > _MAX_CLOSED_DAYS:
                raise ValueError(f"the calendar stays closed for years after {u.isoformat()}")
            day += _DAY


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware, got naive {t.isoformat()}")
    return t.astimezone(UTC)
