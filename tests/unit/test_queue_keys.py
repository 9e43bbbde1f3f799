"""The queue's search keys (stored columns and typed queries normalised alike) and its cursor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflow.adapters import search_keys
from workflow.adapters.queries.queue_filters import decode_cursor, encode_cursor


def test_columns_come_from_the_request_and_are_empty_once_anonymised() -> None:
    data = {"requester": {"email": " Dana@Example.COM ", "phone": "+1 503 555 0147"},
            "device": {"model_number": "DS-7608NI-I2/8P",
                       "serial_number": "ds-7608ni-i2/8p0820200115ccrr123456789wcvu"},
            "reset_method": "sadp"}
    assert search_keys.columns(data) == {
        "search_email": "dana@example.com", "search_phone": "74105553051",
        "search_serial": "0820200115CCRR123456789WCVU", "method": "sadp"}
    residue = {"requester": {"country": "US"}, "device": {"model_number": "DS-7608NI-I2/8P"},
               "reset_method": "sadp"}
    assert search_keys.columns(residue) == {"search_email": None, "search_phone": None,
                                            "search_serial": None, "method": "sadp"}
    assert search_keys.columns({}) == dict.fromkeys(
        ("search_email", "search_phone", "search_serial", "method"))


def test_a_serial_not_starting_with_its_model_is_kept_whole() -> None:
    assert search_keys.label_serial("ABC123", "XYZ") == "ABC123"
    assert search_keys.label_serial("XYZ", "XYZ") == "XYZ"


@pytest.mark.parametrize(("text", "keys"), [
    ("RD-ABCD-EFGH", {"reference": "RD-ABCD-EFGH", "search_email": "rd-abcd-efgh",
                      "serial_key": "RD-ABCD-EFGH", "search_serial": "RD-ABCD-EFGH"}),
    ("rd abcd efgh", {"reference": "RD-ABCD-EFGH", "serial_key": "RDABCDEFGH",
                      "search_serial": "RDABCDEFGH"}),
    ("Dana@Example", {"search_email": "dana@example"}),
    ("503 555 0147", {"search_phone": "7410555305", "serial_key": "5035550147",
                      "search_serial": "5035550147"}),
    ("+1 (503) 555", {"search_phone": "5553051", "serial_key": "+1(503)555",
                      "search_serial": "+1(503)555"}),
    ("ab", {}),
    ("   ", {}),
    ("12 3", {"serial_key": "123", "search_serial": "123"}),  # 3 digits: no phone
])
def test_a_query_is_normalised_as_the_columns_are(text: str, keys: dict[str, str]) -> None:
    assert search_keys.query_keys(text) == keys


def test_a_cursor_round_trips_and_refuses_anything_else() -> None:
    at = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    assert decode_cursor(encode_cursor(at, "abc")) == (at, "abc")
    assert decode_cursor(encode_cursor(None, "abc")) == (None, "abc")
    for bad in ("x", "@@@@", encode_cursor(None, "")):
        with pytest.raises(ValueError, match="bad queue cursor"):
            decode_cursor(bad)
