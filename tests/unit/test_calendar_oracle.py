"""The fast calendar against a minute-stepping oracle that shares none of its machinery.

The oracle reads the calendar's public definition (zone, windows, closures) and decides each
minute on its own: open iff a window of the minute's local date or the day before, whose date is
not closed, contains it and no closed period does. Every boundary is a whole minute in UTC for the
zones used here, so stepping minutes is exact for minute-aligned inputs. bench/calendar_add.py
uses it as its baseline.

Results are compared in UTC: PEP 495 makes `==` between zones False for an ambiguous local time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from workflow.domain.calendar import BusinessCalendar, ClosedPeriod, Window

MINUTE = timedelta(minutes=1)
ZONES = (
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "America/Santiago",  # DST changes at local midnight
    "Asia/Kolkata",  # no DST, a half-hour offset
)
FIRST_DAY, LAST_DAY = date(2026, 1, 1), date(2027, 12, 31)


class MinuteSteppingCalendar:
    """Naive but obviously correct reference: one minute at a time."""

    def __init__(self, cal: BusinessCalendar) -> None:
        self.zone = cal.zone
        self.hours = cal.hours
        self.closed_days = {c.day for c in cal.closed_days}
        self.periods = [(self._utc(p.start), self._utc(p.end)) for p in cal.closed_periods]
        self._windows: dict[date, list[tuple[datetime, datetime]]] = {}

    def _utc(self, local: datetime) -> datetime:
        if local.tzinfo is None:
            local = local.replace(tzinfo=self.zone, fold=0)
        return local.astimezone(UTC)

    def _owned(self, day: date) -> list[tuple[datetime, datetime]]:
        if day not in self._windows:
            spans = []
            for w in self.hours[day.weekday()]:
                end_day = day + timedelta(days=1) if w.end <= w.start else day
                spans.append(
                    (
                        self._utc(datetime.combine(day, w.start)),
                        self._utc(datetime.combine(end_day, w.end)),
                    )
                )
            self._windows[day] = spans
        return self._windows[day]

    def is_open(self, t: datetime) -> bool:
        u = t.astimezone(UTC)
        local_day = u.astimezone(self.zone).date()
        in_window = any(
            start <= u < end
            for day in (local_day - timedelta(days=1), local_day)
            if day not in self.closed_days
            for start, end in self._owned(day)
        )
        return in_window and not any(start <= u < end for start, end in self.periods)

    def add(self, t: datetime, duration: timedelta) -> datetime:
        u, remaining = t.astimezone(UTC), duration
        while remaining > timedelta(0):
            if self.is_open(u):
                remaining -= MINUTE
            u += MINUTE
        return u

    def between(self, t1: datetime, t2: datetime) -> timedelta:
        u, end, total = t1.astimezone(UTC), t2.astimezone(UTC), timedelta(0)
        while u < end:
            if self.is_open(u):
                total += MINUTE
            u += MINUTE
        return total


def _transition_days(zone_name: str) -> list[date]:
    cal = BusinessCalendar({0: [Window(time(9), time(10))]}, timezone=zone_name)
    days, day = [], FIRST_DAY
    while day < LAST_DAY:
        before = datetime.combine(day, time(12), cal.zone).utcoffset()
        after = datetime.combine(day + timedelta(days=1), time(12), cal.zone).utcoffset()
        if before != after:
            days.append(day + timedelta(days=1))
        day += timedelta(days=1)
    return days


TRANSITIONS = {name: _transition_days(name) for name in ZONES}


def quarter_hour(k: int) -> time:
    return time(k // 4, 15 * (k % 4))


@st.composite
def day_windows(draw: st.DrawFn) -> list[Window]:
    """Up to three windows; the last one may run past midnight (a night shift)."""
    points = sorted(draw(st.lists(st.integers(0, 95), unique=True, max_size=6)))
    pairs = zip(points[::2], points[1::2], strict=False)
    windows = [Window(quarter_hour(a), quarter_hour(b)) for a, b in pairs]
    if len(points) % 2 and draw(st.booleans()):
        windows.append(Window(quarter_hour(points[-1]), quarter_hour(draw(st.integers(0, 24)))))
    return windows


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    zone = draw(st.sampled_from(ZONES))
    hours = {day: draw(day_windows()) for day in range(7)}
    closed_days = draw(st.lists(st.dates(FIRST_DAY, LAST_DAY), max_size=8))
    closed_days += [d for d in TRANSITIONS[zone] if draw(st.booleans())][:2]
    periods = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(local_minutes(zone))
        length = timedelta(minutes=15 * draw(st.integers(1, 4 * 24 * 3)))
        periods.append(ClosedPeriod(start, start + length))
    try:
        return BusinessCalendar(hours, timezone=zone, closed_days=closed_days, closed_periods=periods)
    except ValueError:
        assume(False)
        raise


def local_minutes(zone: str) -> st.SearchStrategy[datetime]:
    """Naive local minutes, often on a DST transition day or its neighbours."""
    near = st.sampled_from(TRANSITIONS[zone] or [FIRST_DAY]).flatmap(
        lambda d: st.integers(-1, 1).map(lambda k: d + timedelta(days=k))
    )
    days = st.one_of(st.dates(FIRST_DAY, LAST_DAY - timedelta(days=30)), near)
    return st.builds(
        lambda d, m: datetime.combine(d, time()) + timedelta(minutes=m), days, st.integers(0, 1439)
    )


@st.composite
def instants(draw: st.DrawFn, cal: BusinessCalendar) -> datetime:
    local = draw(local_minutes(cal.zone.key))
    return local.replace(tzinfo=cal.zone, fold=draw(st.integers(0, 1))).astimezone(UTC)


def weekly_open(cal: BusinessCalendar) -> timedelta:
    return sum((w.end_offset - w.start_offset for windows in cal.hours for w in windows), timedelta(0))


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


@PROPERTY
@given(data=st.data())
def test_add_business_time_matches_minute_stepping(data: st.DataObject) -> None:
    cal = data.draw(calendars())
    oracle = MinuteSteppingCalendar(cal)
    t = data.draw(instants(cal))
    budget = max(weekly_open(cal) // MINUTE, 1)
    duration = timedelta(minutes=data.draw(st.integers(0, min(budget, 2400))))
    assert cal.add_business_time(t, duration).astimezone(UTC) == oracle.add(t, duration)


@PROPERTY
@given(data=st.data())
def test_business_time_between_matches_minute_stepping(data: st.DataObject) -> None:
    cal = data.draw(calendars())
    oracle = MinuteSteppingCalendar(cal)
    t1 = data.draw(instants(cal))
    t2 = t1 + timedelta(minutes=data.draw(st.integers(0, 3 * 1440)))
    assert cal.business_time_between(t1, t2) == oracle.between(t1, t2)


@PROPERTY
@given(data=st.data())
def test_is_open_and_next_opening_match_minute_stepping(data: st.DataObject) -> None:
    cal = data.draw(calendars())
    oracle = MinuteSteppingCalendar(cal)
    t = data.draw(instants(cal))
    assert cal.is_open(t) == oracle.is_open(t)
    opening = t
    while not oracle.is_open(opening):
        opening += MINUTE
    assert cal.next_opening(t).astimezone(UTC) == opening


def test_oracle_counts_a_plain_weekday() -> None:
    cal = BusinessCalendar({d: [Window(time(6), time(16, 30))] for d in range(5)})
    oracle = MinuteSteppingCalendar(cal)
    monday = datetime(2026, 11, 23, tzinfo=cal.zone)
    assert oracle.between(monday, monday + timedelta(days=1)) == timedelta(hours=10, minutes=30)
    assert oracle.add(monday, timedelta(hours=1)) == monday.replace(hour=7)
