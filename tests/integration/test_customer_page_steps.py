"""The customer pages' steps through the real app over SQLite: a browser's form never gives a
callback slot back in one click (it asks first, a script keeps the one-step release), the
picker shows several days each under its heading in one form, and either answer to a reset key
can be given from any key page (the sibling link is signed for the same ticket and expiry)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from console import i18n
from tests.integration.test_callbacks import FixedClock, booked, bookings, pt, queued, ticket
from tests.integration.test_callbacks import web_client as callback_client
from tests.integration.test_customer_pages import shown_text
from tests.integration.test_reset_keys import T0, _claimed, _path, _send_codes
from tests.integration.test_reset_keys import MovableClock as KeyClock
from tests.integration.test_reset_keys import web_client as key_client
from tests.web import SECRET
from workflow.adapters import links
from workflow.adapters.db import Database, open_database
from workflow.domain.states import State, WaitingOn


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    database = open_database(sqlite_url)
    yield database
    database.dispose()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_browser_form_asks_before_giving_the_slot_back(sqlite_db: Database, lang: str) -> None:
    clock = FixedClock(pt(19, 8))
    tid, _ = booked(sqlite_db, clock, lang)
    client = callback_client(sqlite_db, clock)
    token = links.sign(SECRET, tid, "move_callback", pt(19, 8, 30))

    page = client.get(f"/customer/callback/{token}")
    assert 'href="?release=ask"' in page.text and shown_text(lang, "callback.move") in page.text
    ask = client.get(f"/customer/callback/{token}?release=ask")
    assert ask.status_code == 200 and shown_text(lang, "callback.release_title") in ask.text
    assert shown_text(lang, "callback.release_cancel") in ask.text
    assert '<input type="hidden" name="release" value="yes">' in ask.text
    unasked = client.post(f"/customer/callback/{token}", data={"slot": ""})  # no slot picked
    assert unasked.status_code == 200 and shown_text(lang, "callback.release_yes") in unasked.text
    assert bookings(sqlite_db, tid)[0].status == "booked" and ticket(sqlite_db, tid).waiting_on is None

    done = client.post(f"/customer/callback/{token}", data={"release": "yes"})
    assert done.status_code == 200 and shown_text(lang, "callback.released") in done.text
    assert bookings(sqlite_db, tid)[0].status == "moved"
    assert ticket(sqlite_db, tid).waiting_on is WaitingOn.CALLBACK_MOVED
    assert 'href="?release=ask"' not in done.text  # nothing left to give back
    again = client.get(f"/customer/callback/{token}?release=ask")  # no booking: the picker
    assert shown_text(lang, "callback.pick") in again.text


def test_the_picker_groups_the_next_days_in_one_form(sqlite_db: Database) -> None:
    clock = FixedClock(pt(19, 8))
    tid = queued(sqlite_db, pt(19, 7))
    token = links.sign(SECRET, tid, "request_callback", pt(22, 8))
    client = callback_client(sqlite_db, clock)
    shown = client.get(f"/customer/callback/{token}?format=json").json()
    days = shown["days"]
    assert len(days) == 3 and days[0]["slots"] == shown["slots"]
    assert days[1]["day"] == shown["next_day"] and shown["more_day"] > days[2]["day"]
    assert [d["day"] for d in days] == sorted({d["day"] for d in days})  # 3 days, in order
    page = client.get(f"/customer/callback/{token}").text
    assert re.findall(r'<h3 class="day-heading">([^<]+)</h3>', page) == [d["label"] for d in days]
    assert page.count('type="radio" name="slot"') == sum(len(d["slots"]) for d in days)
    assert page.count("<form") == 1 and page.count('type="submit"') == 1
    assert f'href="?day={shown["more_day"]}"' in page
    later = client.get(f"/customer/callback/{token}?day={shown['more_day']}&format=json").json()
    assert later["days"][0]["day"] == shown["more_day"]
    picked = days[2]["slots"][0]["start"]
    r = client.post(f"/customer/callback/{token}", data={"slot": picked})
    assert r.status_code == 200 and i18n.t("en", "callback.done") in r.text
    [booking] = bookings(sqlite_db, tid)
    assert booking.slot_start.isoformat()[:16] == \
        datetime.fromisoformat(picked).astimezone(UTC).isoformat()[:16]
    assert ticket(sqlite_db, tid).state is State.AWAITING_CALLBACK


def test_every_key_page_offers_both_answers_for_the_same_ticket(sqlite_db: Database) -> None:
    clock = KeyClock(T0)
    client, tid = key_client(sqlite_db, clock), _claimed(sqlite_db, "en")
    sent = _send_codes(client, sqlite_db, tid)
    for opened in ("confirm_url", "report_url", "key_url"):
        page = client.get(_path(sent[opened])).text
        posts = {action: path for path, action in re.findall(
            r'<form method="post" action="(/customer/key/(\w+)/[^"]+)"', page)}
        assert set(posts) == {"confirm", "report"}, opened
        for action, path in posts.items():
            claim = links.verify(SECRET, path.rsplit("/", 1)[1], T0, action=f"{action}_key")
            assert claim.ticket_id == tid
    clock.at = T0 + timedelta(minutes=5)
    assert client.post(posts["report"]).status_code == 200  # "it did not work" from the key
    assert ticket(sqlite_db, tid).state is State.QUEUED and ticket(sqlite_db, tid).waiting_on is None
