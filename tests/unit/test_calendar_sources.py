"""Building calendars from TOML, the `holidays` package and .ics files."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest

from tests.unit.test_calendar import HOLIDAYS_2026_2027, la
from workflow.adapters.calendar_sources import calendar_from_toml_text, load_calendar
from workflow.domain.calendar import ClosedPeriod, Window

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//ResetDesk tests//EN
BEGIN:VEVENT
UID:offsite
DTSTART;VALUE=DATE:20260810
DTEND;VALUE=DATE:20260812
SUMMARY:Team offsite
END:VEVENT
BEGIN:VEVENT
UID:training
DTSTART;TZID=America/Los_Angeles:20260915T130000
DTEND;TZID=America/Los_Angeles:20260915T150000
SUMMARY:Training
END:VEVENT
BEGIN:VEVENT
UID:eve
DTSTART;TZID=America/Los_Angeles:20261224T120000
DTEND;TZID=America/Los_Angeles:20261224T163000
RRULE:FREQ=YEARLY;COUNT=4
EXDATE;TZID=America/Los_Angeles:20271224T120000
SUMMARY:Christmas Eve early close
END:VEVENT
BEGIN:VEVENT
UID:eve
RECURRENCE-ID;TZID=America/Los_Angeles:20281224T120000
DTSTART;TZID=America/Los_Angeles:20281222T140000
DTEND;TZID=America/Los_Angeles:20281222T163000
SUMMARY:Christmas Eve early close (moved)
END:VEVENT
BEGIN:VEVENT
UID:cancelled
DTSTART;VALUE=DATE:20260916
STATUS:CANCELLED
SUMMARY:Cancelled closure
END:VEVENT
END:VCALENDAR
"""


def test_packaged_default_is_weekdays_six_to_four_thirty_in_los_angeles() -> None:
    cal = load_calendar()
    assert cal.zone.key == "America/Los_Angeles"
    assert cal.hours[:5] == ((Window(time(6), time(16, 30)),),) * 5
    assert cal.hours[5:] == ((), ())


def test_packaged_default_closes_the_six_holidays_by_name_with_observed_days() -> None:
    cal = load_calendar()
    closed = [c.day for c in cal.closed_days if date(2026, 1, 1) <= c.day <= date(2027, 12, 31)]
    assert closed == HOLIDAYS_2026_2027
    assert {c.reason for c in cal.closed_days if c.day == date(2026, 7, 3)} == {"Independence Day (observed)"}
    assert not cal.is_open(la(2026, 11, 26, 10))
    assert cal.is_open(la(2026, 11, 11, 10))  # Veterans Day is not picked


def test_observed_days_can_be_left_open() -> None:
    cal = load_calendar(overrides="[holidays]\nobserved = false\n")
    assert cal.is_open(la(2026, 7, 3, 10))


def test_overrides_merge_tables_and_replace_values() -> None:
    cal = load_calendar(overrides='[hours]\nsat = ["08:00-12:00"]\n')
    assert cal.hours[5] == (Window(time(8), time(12)),)
    assert cal.hours[0] == (Window(time(6), time(16, 30)),)
    assert len(cal.closed_days) > 50  # holidays still come from the file


def test_explicit_closures_close_days_and_periods(tmp_path: Path) -> None:
    cal = calendar_from_toml_text(
        """
        [hours]
        mon = ["06:00-11:30", "12:00-16:30"]
        thu = ["06:00-16:30"]
        [[closures]]
        date = 2026-12-28
        reason = "Inventory"
        [[closures]]
        start = "2026-12-31T12:00:00"
        end = 2026-12-31T16:30:00
        """,
        tmp_path,
    )
    assert [(c.day, c.reason) for c in cal.closed_days] == [(date(2026, 12, 28), "Inventory")]
    assert cal.closed_periods == (ClosedPeriod(datetime(2026, 12, 31, 12), datetime(2026, 12, 31, 16, 30)),)
    assert cal.zone.key == "America/Los_Angeles"


def test_ics_closures_expand_recurrences_and_skip_cancelled_events(tmp_path: Path) -> None:
    (tmp_path / "closures.ics").write_text(ICS, encoding="utf-8")
    cal = calendar_from_toml_text(
        '[calendar]\nics = ["closures.ics"]\nyears = [2026, 2030]\n'
        '[hours]\nmon = ["06:00-16:30"]\ntue = ["06:00-16:30"]\nwed = ["06:00-16:30"]\n'
        'thu = ["06:00-16:30"]\nfri = ["06:00-16:30"]\n',
        tmp_path,
    )
    assert [c.day for c in cal.closed_days] == [date(2026, 8, 10), date(2026, 8, 11)]
    starts = [p.start.replace(tzinfo=None) for p in cal.closed_periods]
    assert starts == [
        datetime(2026, 9, 15, 13),
        datetime(2026, 12, 24, 12),
        datetime(2028, 12, 22, 14),  # the overridden occurrence, moved
        datetime(2029, 12, 24, 12),
    ]
    assert not cal.is_open(la(2026, 12, 24, 13))
    assert cal.is_open(la(2026, 9, 16, 10))


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[hours]\nmonday = []\n", "'monday'"),
        ("[holiday]\n", "'holiday'"),
        ('[hours]\nmon = ["6am-4pm"]\n', "hours.mon"),
        ('[hours]\nmon = "06:00-16:30"\nfri = [1]\n', "hours.fri"),
        ('[calendar]\ntimezone = "Mars/Olympus"\n[hours]\nmon = ["06:00-07:00"]\n', "timezone"),
        ('[calendar]\nyears = [2030, 2020]\n[hours]\nmon = ["06:00-07:00"]\n', "calendar.years"),
        ('[hours]\nmon = ["06:00-07:00"]\n[holidays]\nnames = ["Thanksgiving"]\n', "holidays.names"),
        ('[hours]\nmon = ["06:00-07:00"]\n[holidays]\ncountry = "XX"\nnames = []\n', "country"),
        ('[hours]\nmon = ["06:00-07:00"]\n[[closures]]\nreason = "x"\n', "closures[0]"),
        ('[hours]\nmon = ["06:00-07:00"]\n[[closures]]\ndate = "soon"\n', "closures[0].date"),
        (
            '[hours]\nmon = ["06:00-07:00"]\n[[closures]]\nstart = 2026-01-02T00:00:00\n'
            "end = 2026-01-01T00:00:00\n",
            "closures[0]",
        ),
        ('[hours]\nmon = ["06:00-07:00"]\n[calendar]\nics = ["missing.ics"]\n', "calendar.ics"),
        ("[hours\n", "invalid TOML"),
    ],
)
def test_bad_settings_fail_with_a_message_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ValueError, match=named.replace("[", r"\[").replace(".", r"\.")):
        calendar_from_toml_text(text, tmp_path)


def test_missing_calendar_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read calendar file"):
        load_calendar(tmp_path / "nope.toml")


def test_default_description_names_the_holidays() -> None:
    text = load_calendar().describe(date(2026, 11, 1))
    assert "2026-11-26 Thu  Thanksgiving Day" in text
    assert "2027-07-05 Mon  Independence Day (observed)" in text
    assert "2027-11-25" not in text
