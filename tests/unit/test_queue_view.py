"""The queue pages' query string and row texts (console/pages/queue_view.py), without a server."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from console.pages.queue_view import BadQuery, QueueQuery, clock_text, left_text, row_view
from workflow.adapters.queries import SLA_STATUSES, Countdown, QueueRow
from workflow.adapters.sla_book import default_book

MONDAY = datetime(2027, 3, 1, 20, 0, tzinfo=UTC)  # 12:00 in Los Angeles


def test_a_query_string_round_trips_and_drops_what_is_empty() -> None:
    query = QueueQuery.parse({"state": "queued", "language": "", "mine": "1", "q": " dana ",
                              "unassigned": "no", "after": "abc"})
    assert query == QueueQuery(state="queued", mine=True, q="dana", after="abc")
    assert query.url() == "/queue?state=queued&mine=1&q=dana&after=abc"
    assert query.url("/queue/rows", after="") == "/queue/rows?state=queued&mine=1&q=dana"
    assert QueueQuery.parse(dict(query.pairs())) == query
    assert QueueQuery().url() == "/queue" and not QueueQuery(after="x").narrowed
    f = query.filters("ada")
    assert (f.state, f.assignee, f.search, f.unassigned) == ("queued", "ada", "dana", False)
    assert query.describe() == "state queued, mine, search “dana”"


@pytest.mark.parametrize(("params", "message"), [
    ({"state": "lost"}, "unknown state"), ({"sla": "late"}, "unknown sla"),
    ({"waiting_on": "godot"}, "unknown waiting on"), ({"q": "x" * 101}, "at most 100"),
])
def test_values_the_form_never_offers_are_refused(params: dict[str, str], message: str) -> None:
    with pytest.raises(BadQuery, match=message):
        QueueQuery.parse(params)


def test_control_characters_never_reach_the_search() -> None:
    assert QueueQuery.parse({"q": "da\x00na\n"}).q == "dana"


def test_times_read_as_hours_minutes_seconds_either_side_of_the_deadline() -> None:
    assert [clock_text(s) for s in (0, 59, 3599, 3723, 200 * 3600)] == [
        "0:00:00", "0:00:59", "0:59:59", "1:02:03", "200:00:00"]
    assert (left_text(65), left_text(-65)) == ("0:01:05 left", "overdue 0:01:05")


def test_queue_js_formats_the_countdown_as_the_server_does() -> None:
    """The browser rewrites the server's text every second: the same words, or a row would
    change wording at its first tick."""
    script = (Path(__file__).parents[2] / "console/static/queue.js").read_text()
    assert 'clockText(seconds) + " left" : "overdue " + clockText(seconds)' in script
    assert re.search(r'h \+ ":" \+ \(m < 10 \? "0" : ""\) \+ m \+ ":" \+ \(r < 10', script)


def _row(countdown: Countdown | None, status: str | None) -> QueueRow:
    return QueueRow("id", "RD-AAAA-AAAA", "queued", None, None, "en", "sadp", MONDAY, 1, None,
                    status, countdown)


def test_a_row_says_why_its_countdown_stands_still() -> None:
    book = default_book()
    saturday_night = datetime(2027, 3, 7, 6, 0, tzinfo=UTC)
    monday_open = datetime(2027, 3, 8, 14, 0, tzinfo=UTC)  # 06:00 PST
    closed = row_view(_row(Countdown(600, False, False, monday_open), "ok"), saturday_night, book)
    assert (closed.note, closed.left, closed.ticking, closed.until) == (
        "outside hours — resumes Mon 06:00 PST", "0:10:00 left", False, None)
    paused = row_view(_row(Countdown(3000, False, True, None), "paused"), MONDAY, book)
    assert (paused.status_label, paused.note) == ("Paused", "paused — waiting on customer")
    closes = MONDAY + timedelta(hours=4, minutes=30)
    running = row_view(_row(Countdown(-90, True, False, closes), "breached"), MONDAY, book)
    assert (running.status_label, running.left, running.note, running.until) == (
        "Breached", "overdue 0:01:30", "", closes.isoformat())
    none = row_view(_row(None, None), MONDAY, book)
    assert (none.status, none.status_label, none.left) == ("none", "No clock", "—")
    far = row_view(_row(Countdown(60, False, False, monday_open + timedelta(days=9)), "ok"),
                   saturday_night, book)
    assert far.note == "outside hours — resumes Wed 17 Mar 07:00 PDT"  # past the DST change
    assert {row_view(_row(None, s), MONDAY, book).status_label for s in SLA_STATUSES} == {
        "OK", "At risk", "Breached", "Paused"}
