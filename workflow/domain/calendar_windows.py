"""Plain values a business calendar is built from: weekly working windows and closures.

They live apart from the calendar arithmetic so adapters (TOML, `holidays`, .ics) and tests can
build them without touching the clock logic. Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = timedelta(days=1)
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _offset(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


@dataclass(frozen=True, slots=True)
class Window:
    """A working window in local wall time, owned by the weekday it starts on.

    `end <= start` means the window runs past midnight into the next day (a night shift:
    Fri 22:00-02:00 belongs to Friday). Midnight as an end ("24:00") is `time(0)`.
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("window times are local wall times and must be naive")

    @classmethod
    def parse(cls, text: str) -> Window:
        """Parse "HH:MM-HH:MM"; "24:00" is accepted as an end meaning midnight."""
        match = _SPAN.match(text)
        if match is None:
            raise ValueError(f"window {text!r} is not 'HH:MM-HH:MM'")
        sh, sm, eh, em = (int(g) for g in match.groups())
        if eh == 24 and em == 0:
            eh = 0
        try:
            return cls(time(sh, sm), time(eh, em))
        except ValueError as exc:
            raise ValueError(f"window {text!r}: {exc}") from None

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def start_offset(self) -> timedelta:
        """Wall-clock offset of the start from the owning day's midnight."""
        return _offset(self.start)

    @property
    def end_offset(self) -> timedelta:
        """Wall-clock offset of the end from the owning day's midnight (may exceed 24h)."""
        return _offset(self.end) + (_DAY if self.crosses_midnight else timedelta(0))

    def __str__(self) -> str:
        end = "24:00" if self.end == time(0) else self.end.strftime("%H:%M")
        return f"{self.start:%H:%M}-{end}"


@dataclass(frozen=True, slots=True)
class ClosedDay:
    """A whole local date on which the windows owned by that date do not open."""

    day: date
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ClosedPeriod:
    """A closure [start, end); naive datetimes are the calendar's local wall time (fold=0)."""

    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise ValueError("closure start and end must both be naive or both be aware")
        if self.end <= self.start:
            raise ValueError(f"closure ends ({self.end}) before it starts ({self.start})")


def normalise_week(hours: Mapping[int, Iterable[Window]]) -> tuple[tuple[Window, ...], ...]:
    """Return seven sorted window tuples (Mon=0) and refuse windows that overlap in wall time.

    Overlap is checked around the whole week, so a Sunday night shift may not run into a Monday
    window. Non-overlap is what lets the calendar walk windows in order without double counting.
    """
    week: list[tuple[Window, ...]] = [(), (), (), (), (), (), ()]
    for weekday, windows in hours.items():
        if weekday not in range(7):
            raise ValueError(f"weekday {weekday!r} is not 0 (Mon) .. 6 (Sun)")
        week[weekday] = tuple(sorted(windows, key=lambda w: w.start))
    spans = sorted(
        (day * _DAY + w.start_offset, day * _DAY + w.end_offset, f"{WEEKDAYS[day]} {w}")
        for day, windows in enumerate(week)
        for w in windows
    )
    if not spans:
        raise ValueError("the calendar has no working window on any weekday")
    following = [*spans[1:], (spans[0][0] + 7 * _DAY, spans[0][1], spans[0][2])]
    for (_, end, name), (start, _, other) in zip(spans, following, strict=True):
        if start < end:
            raise ValueError(f"working windows overlap: {name} and {other}")
    return tuple(week)
