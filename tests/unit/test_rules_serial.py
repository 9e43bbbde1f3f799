"""The full-serial format a local-GUI reset needs (docs/rules.md, "Full serial number")."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.domain.rules import serial_problem

MODEL = "DS-7208HUHI-F2/N"
SERIAL = "DS-7208HUHI-F2/N0820160816CCRR123456789WCVU"


def test_label_example_is_a_full_serial_of_its_model():
    assert serial_problem(SERIAL, MODEL) is None


@pytest.mark.parametrize(
    ("serial", "model"),
    [
        (SERIAL.lower(), MODEL),
        (" DS-7208HUHI-F2/N 08 20160816 CCRR 123456789 WCVU ", "ds-7208huhi-f2/n"),
        ("DS-7208HUHI-F2/N20160816CCRR123456789", MODEL),  # no channel count
        ("DS-7208HUHI-F2/N0820220301CCRRJ12345678", MODEL),  # newer letter+8 digit number
        (SERIAL, "DS-7208HUHI-F2"),  # model field may omit the label's /variant
        ("DS-2CD2032-I20160101CCWR123456789", "DS-2CD2032-I"),  # camera, no variant
    ],
)
def test_accepted_full_serial_spellings(serial: str, model: str):
    assert serial_problem(serial, model) is None


@pytest.mark.parametrize(
    ("serial", "model"),
    [
        ("DS-7216HUHI-F2/N1620160816CCRR123456789WCVU", MODEL),  # another model
        ("0820160816CCRR123456789WCVU", MODEL),  # serial part only
        ("123456789", MODEL),
        (SERIAL, "DS-7208HUHI-F2/P"),  # other variant
        (SERIAL, "DS-7208HUHI-F"),  # model field truncated
        ("DS-7208HUHI-F2X0820160816CCRR123456789", "DS-7208HUHI-F2"),
        (SERIAL, ""),
    ],
)
def test_serial_of_another_model_is_a_model_mismatch(serial: str, model: str):
    assert serial_problem(serial, model) == "model_mismatch"


@pytest.mark.parametrize(
    "rest",
    [
        "0820160816CCRR12345678",  # number one short
        "0820160816CCR123456789",  # batch code three letters
        "820160816CCRR123456789",  # odd digit count before the batch code
        "0820161316CCRR123456789",  # month 13
        "0820160230CCRR123456789",  # 30 February
        "0819990816CCRR123456789",  # year outside 20xx
        "0820160816CCRR123456789WCVUWCVU",  # suffix too long
        "0820160816CCRR123456789-",
    ],
)
def test_malformed_device_part_is_a_format_problem(rest: str):
    assert serial_problem(MODEL + rest, MODEL) == "format"


def test_variant_given_twice_is_a_format_problem():
    assert serial_problem("DS-7208HUHI-F2/N/N0820160816CCRR123456789", MODEL) == "format"


@given(
    channels=st.sampled_from(["", "04", "08", "16"]),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    number=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=9, max_size=9),
    suffix=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ", max_size=4),
)
def test_any_well_formed_serial_is_accepted(channels: str, day: date, number: str, suffix: str):
    serial = f"{MODEL}{channels}{day:%Y%m%d}CCWR{number}{suffix}"
    assert serial_problem(serial, MODEL) is None
