"""Reset keys without I/O: kinds and validity, the silence policy over business days, sealing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.adapters.artifact_store import AesGcmSealer
from workflow.domain.calendar import BusinessCalendar, Window
from workflow.domain.reset_keys import (
    InvalidArtifact,
    KeyPolicy,
    SilencePolicy,
    business_days_after,
    is_business_day,
    new_artifact,
)
from workflow.service.reset_keys import seal_context

PT = ZoneInfo("America/Los_Angeles")
HOLIDAY = date(2027, 1, 11)  # a Monday
CAL = BusinessCalendar({d: [Window(time(6), time(16, 30))] for d in range(5)},
                       closed_days=[HOLIDAY])
FRIDAY = datetime(2027, 1, 8, 10, 0, tzinfo=PT)
SECRET = b"unit-test-secret-" * 2


def _pt(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2027, 1, day, hour, minute, tzinfo=PT)


def test_each_kind_is_valid_for_its_configured_hours() -> None:
    policy = KeyPolicy()
    assert policy.valid_until("security_codes", FRIDAY) == FRIDAY + timedelta(hours=24)
    assert policy.valid_until("key", FRIDAY) == FRIDAY + timedelta(hours=48)
    assert policy.valid_until("encrypted_file", FRIDAY) == FRIDAY + timedelta(hours=48)
    custom = KeyPolicy({**policy.validity, "security_codes": timedelta(hours=36)}, 10)
    assert custom.valid_until("security_codes", FRIDAY) == FRIDAY + timedelta(hours=36)
    assert custom.validity["key"] == timedelta(hours=48) and custom.max_file_bytes == 10
    with pytest.raises(ValueError):
        KeyPolicy({**policy.validity, "key": timedelta(0)})
    with pytest.raises(ValueError):
        KeyPolicy({"key": timedelta(hours=1)})  # every kind needs a validity
    with pytest.raises(ValueError):
        KeyPolicy(max_file_bytes=0)
    with pytest.raises(ValueError):
        KeyPolicy(link_lifetime=timedelta(0))


def test_codes_and_keys_need_text_and_files_need_a_bounded_file() -> None:
    assert new_artifact("security_codes", text="  2027-01-08: 1234  ").text == "2027-01-08: 1234"
    for bad in (lambda: new_artifact("password", text="x"),
                lambda: new_artifact("key", text="   "),
                lambda: new_artifact("key", text="x" * 2001),
                lambda: new_artifact("key", text="x", content=b"y"),
                lambda: new_artifact("encrypted_file", content=b""),
                lambda: new_artifact("encrypted_file", content=b"12345", max_file_bytes=4)):
        with pytest.raises(InvalidArtifact):
            bad()


def test_an_uploaded_file_keeps_only_a_safe_base_name_and_media_type() -> None:
    art = new_artifact("encrypted_file", content=b"\x00\x01", filename="C:\\Users\\x\\re\"set\n.bin",
                       media_type="text/html; charset=utf-8")
    assert art.filename == "re_set_.bin" and art.media_type == "text/html"
    art = new_artifact("encrypted_file", content=b"1", filename="../..", media_type="<script>")
    assert art.filename == "reset-key.bin" and art.media_type == "application/octet-stream"


def test_business_days_skip_weekends_and_holidays() -> None:
    assert business_days_after(CAL, FRIDAY, 0) == FRIDAY
    assert business_days_after(CAL, FRIDAY, 1) == _pt(12)  # Sat, Sun, holiday Monday skipped
    assert business_days_after(CAL, FRIDAY, 2) == _pt(13)
    assert business_days_after(CAL, FRIDAY, 5) == _pt(18)
    saturday_night = datetime(2027, 1, 9, 23, 30, tzinfo=PT)
    assert business_days_after(CAL, saturday_night, 1) == _pt(12, 23, 30)


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31),
                    timezones=st.just(UTC)), st.integers(min_value=1, max_value=12))
def test_n_business_days_later_is_a_business_day_with_n_business_days_between(
        start: datetime, days: int) -> None:
    end = business_days_after(CAL, start, days)
    assert end > start
    local_end = end.astimezone(PT)
    assert is_business_day(CAL, datetime.combine(local_end.date(), time(0), PT))
    day, counted = start.astimezone(PT).date(), 0
    while day < local_end.date():
        day += timedelta(days=1)
        counted += is_business_day(CAL, datetime.combine(day, time(0), PT))
    assert counted == days


def test_a_silent_customer_is_reminded_then_closed() -> None:
    policy = SilencePolicy(remind_after=2, close_after=5)
    assert policy.next_step(CAL, FRIDAY, None, _pt(13, 9, 59)) is None
    assert policy.next_step(CAL, FRIDAY, None, _pt(13)) == "remind"
    assert policy.next_step(CAL, FRIDAY, _pt(13), _pt(15, 17)) is None
    assert policy.next_step(CAL, FRIDAY, _pt(13), _pt(18)) == "close"


def test_a_late_reminder_pushes_the_close_back() -> None:
    policy = SilencePolicy(remind_after=2, close_after=5)
    late = _pt(18, 11)  # the scheduler was down: the reminder only went out on close day
    assert policy.next_step(CAL, FRIDAY, late, _pt(19, 12)) is None
    assert policy.next_step(CAL, FRIDAY, late, _pt(21, 11)) == "close"
    with pytest.raises(ValueError):
        SilencePolicy(remind_after=5, close_after=5)


def test_a_sealed_artifact_hides_its_content_and_opens_back() -> None:
    sealer, context = AesGcmSealer(SECRET), seal_context("t1", "key")
    plain = b"ABCD-EFGH-IJKL-MNOP"
    sealed = sealer.seal(plain, context)
    assert plain not in sealed and sealed != sealer.seal(plain, context)  # fresh nonce each time
    assert sealer.open(sealed, context) == plain


def test_an_altered_moved_or_foreign_ciphertext_does_not_open() -> None:
    sealer, context = AesGcmSealer(SECRET), seal_context("t1", "key")
    sealed = sealer.seal(b"secret codes", context)
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    for ciphertext, ctx, who in ((flipped, context, sealer),
                                 (sealed, seal_context("t2", "key"), sealer),
                                 (sealed, context, AesGcmSealer(b"another-secret-key!")),
                                 (b"\x01short", context, sealer)):
        with pytest.raises(ValueError):
            who.open(ciphertext, ctx)
    with pytest.raises(ValueError):
        AesGcmSealer(b"short")
