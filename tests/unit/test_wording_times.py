"""Times as customers read them: Pacific time, and their own zone when the request named one."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from markupsafe import Markup

from console.local_time import local_time, time_tag
from schemas.time_zones import IANA_TIME_ZONES
from tests.factories import T0, make_ticket
from tests.fake_bus import MovableClock, fake_bus
from tests.fakes import Store
from workflow.adapters.sla_book import default_book
from workflow.domain.actors import Actor
from workflow.domain.events import NotificationRequested
from workflow.domain.states import State
from workflow.domain.wording import customer_span, customer_time, instant, zone_named
from workflow.service import commands as c
from workflow.service.handlers import sync_sla

WINTER = datetime(2026, 3, 3, 18, 0, tzinfo=UTC)  # 10:00 PST, 13:00 in Toronto
SUMMER = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)  # 07:00 PDT


def test_without_a_zone_the_time_is_the_pacific_one_as_before() -> None:
    assert customer_time(SUMMER, "en") == "Wednesday, July 1, 2026 at 07:00 PDT"
    assert customer_time(SUMMER, "fr") == "mercredi 1er juillet 2026 à 07 h 00 (heure du Pacifique)"


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Tuesday, March 3, 2026 at 10:00 PST (13:00 your time, America/Toronto)"),
    ("fr", "mardi 3 mars 2026 à 10 h 00 (heure du Pacifique ; 13 h 00 chez vous, America/Toronto)"),
])
def test_the_customers_own_zone_follows_the_pacific_time(language: str, expected: str) -> None:
    assert customer_time(WINTER, language, "America/Toronto") == expected
    assert customer_time(WINTER, language, ZoneInfo("America/Toronto")) == expected


def test_the_customers_date_is_named_when_it_is_not_the_desks() -> None:
    late = datetime(2026, 3, 4, 6, 30, tzinfo=UTC)  # Tuesday 22:30 PST = Wednesday 15:30 Tokyo
    assert customer_time(late, "en", "Asia/Tokyo") == (
        "Tuesday, March 3, 2026 at 22:30 PST (Wednesday, March 4, 15:30 your time, Asia/Tokyo)")
    assert "(heure du Pacifique ; mercredi 4 mars, 15 h 30 chez vous, Asia/Tokyo)" in \
        customer_time(late, "fr", "Asia/Tokyo")


def test_a_zone_this_host_cannot_load_is_left_out_not_an_error() -> None:
    assert customer_time(SUMMER, "en", "Mars/Olympus") == customer_time(SUMMER, "en")
    assert zone_named("") is None and zone_named(None) is None and zone_named("../etc") is None


def test_a_slot_is_told_in_both_zones() -> None:
    end = WINTER.replace(minute=30)
    assert customer_span(WINTER, end, "en", "America/Toronto") == (
        "Tuesday, March 3, 2026, between 10:00 and 10:30 PST "
        "(13:00 to 13:30 your time, America/Toronto)")
    assert customer_span(WINTER, end, "fr", "America/Toronto") == (
        "mardi 3 mars 2026, entre 10 h 00 et 10 h 30 "
        "(heure du Pacifique ; de 13 h 00 à 13 h 30 chez vous, America/Toronto)")
    assert customer_span(WINTER, end, "en") == "Tuesday, March 3, 2026, between 10:00 and 10:30 PST"


def test_event_times_old_and_new_read_the_same() -> None:
    assert instant("2027-01-09 18:00 UTC") == instant("2027-01-09T18:00:00+00:00") \
        == datetime(2027, 1, 9, 18, tzinfo=UTC)
    with pytest.raises(ValueError):
        instant("next tuesday")


def test_the_page_tag_carries_the_instant_for_the_device_time_script() -> None:
    tag = local_time(WINTER, "fr", "America/Toronto")
    assert isinstance(tag, Markup)
    assert tag.startswith('<time datetime="2026-03-03T18:00:00Z" data-local-time '
                          'data-local-label="sur cet appareil : ">mardi 3 mars 2026')
    assert local_time(None, "en") == ""
    assert "&lt;b&gt;" in time_tag("2026-03-03T10:00:00-08:00", "<b>", "en")


def test_every_accepted_zone_loads_here() -> None:
    """The contract's embedded list must be usable by the wording on this host."""
    assert [name for name in IANA_TIME_ZONES if zone_named(name) is None] == []
    assert {"America/Toronto", "America/Vancouver", "America/Halifax", "America/St_Johns",
            "Pacific/Honolulu", "UTC"} <= set(IANA_TIME_ZONES)


def test_callback_emails_tell_the_slot_in_the_zone_the_request_named() -> None:

    store = Store()
    ticket = make_ticket(State.QUEUED, created_at=T0, updated_at=T0, accepted_at=T0,
                         data={"requester": {"time_zone": "America/Toronto"}})
    sync_sla(default_book(), ticket, T0)
    ticket.version = 1
    store.tickets[ticket.id] = ticket
    bus = fake_bus(store, MovableClock())
    bus.handle(c.RequestCallback(actor=Actor("agent", "alice"), ticket_id=ticket.id))
    bus.handle(c.MoveCallback(actor=Actor("agent", "alice"), ticket_id=ticket.id,
                              reason="the line is down"))
    mails = [e for e in store.events if isinstance(e, NotificationRequested)]
    assert [m.template for m in mails] == ["callback_booked", "callback_released"]
    for mail in mails:
        assert "PST (" in str(mail.context["slot_text"])
        assert str(mail.context["slot_text"]).endswith("your time, America/Toronto)")
