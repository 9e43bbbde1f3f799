from datetime import UTC, datetime, timedelta

import pytest

from workflow.adapters.links import InvalidLink, sign, verify

SECRET = b"s" * 32
NOW = datetime(2026, 11, 24, 17, tzinfo=UTC)


def test_a_signed_link_verifies_until_it_expires() -> None:
    token = sign(SECRET, "t1", "confirm_key", NOW + timedelta(hours=1))
    claim = verify(SECRET, token, NOW, action="confirm_key")
    assert (claim.ticket_id, claim.action) == ("t1", "confirm_key")
    with pytest.raises(InvalidLink, match="expired"):
        verify(SECRET, token, NOW + timedelta(hours=1))


def test_tampered_or_foreign_links_are_refused() -> None:
    token = sign(SECRET, "t1", "confirm_key", NOW + timedelta(hours=1))
    _body, mac = token.split(".")
    other = sign(SECRET, "t2", "confirm_key", NOW + timedelta(hours=1))
    for bad in (f"{other.split('.')[0]}.{mac}", token + "x", "garbage", "",
                sign(b"x" * 32, "t1", "confirm_key", NOW + timedelta(hours=1))):
        with pytest.raises(InvalidLink, match="not valid"):
            verify(SECRET, bad, NOW)
    with pytest.raises(InvalidLink):
        verify(SECRET, token, NOW, action="report_failure")
