"""The queue pages as a browser receives them (server-rendered HTML) over a real database on both
databases: order, countdowns, filters in the URL, search, keyset pages, the poller's fragment,
the escalating-soon view, bulk actions with their confirmation count and per-ticket results,
and reassigning kept for supervisors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from console.app import create_app
from console.deps import WebDeps
from console.pages import queue as queue_pages
from tests.fake_bus import MovableClock
from tests.integration.test_queue_model import BOOK, NOW, POLICIES, SPECS, Spec, build, store
from tests.web import SECRET, page_sign_in
from workflow.adapters import accounts
from workflow.adapters.db import Database
from workflow.adapters.human_check import LocalVerifier
from workflow.adapters.tables import TICKET
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.calendar import BusinessCalendar, Window
from workflow.domain.ticket import Ticket
from workflow.domain.ticket_sla import SlaBook

#: the queue order of SPECS at NOW (test_queue_model checks the read model's order itself)
RUNNING = ["breached", "at_risk", "ok", "replied_at_risk", "replied_ok"]


class Rows(HTMLParser):
    """The queue table's rows: reference, each cell's text by class, the SLA cell's data."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self._cell: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-ref"):
            self.rows.append({"ref": a["data-ref"], "id": a["data-id"]})
        elif tag == "td" and self.rows and a.get("class"):
            self._cell = str(a["class"]).split()[0]
            self.rows[-1][self._cell] = ""
            if self._cell == "sla":
                self.rows[-1]["sla_data"] = {k[5:]: v for k, v in a.items() if k.startswith("data-")}
                self.rows[-1]["sla_class"] = a["class"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell and self.rows:
            self.rows[-1][self._cell] += data

    def text(self, ref: str, cell: str) -> str:
        row = next(r for r in self.rows if r["ref"] == ref)
        return " ".join(str(row[cell]).split())


def client_for(db: Database, book: SlaBook = BOOK, now: datetime = NOW) -> TestClient:
    deps = WebDeps(db=db, clock=MovableClock(now), verifier=LocalVerifier(),
                   uow=lambda: SqlUnitOfWork(db, sla=book), secret_key=SECRET)
    return TestClient(create_app(deps))


def signed_in(db: Database, login: str, role: str = "agent", **kw: Any) -> tuple[TestClient, str]:
    """A browser-like client signed in through /signin, and the CSRF token of its pages."""
    client = client_for(db, **kw)
    accounts.add_agent(db, login, f"{login}-password-123", role=role)
    return client, page_sign_in(client, login, f"{login}-password-123")


@pytest.fixture
def desk(db: Database) -> dict[str, Ticket]:
    tickets = {name: build(spec) for name, spec in SPECS.items()}
    store(db, *tickets.values())
    return tickets


def refs(desk: dict[str, Ticket], *names: str) -> list[str]:
    return [desk[n].reference for n in names]


def by_id(desk: dict[str, Ticket], *names: str) -> list[str]:
    return [desk[n].reference for n in sorted(names, key=lambda n: desk[n].id)]


def shown(client: TestClient, url: str) -> Rows:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text[:500]
    return Rows(answer.text)


def test_the_queue_lists_open_tickets_by_due_time_each_with_its_countdown(
        db: Database, desk: dict[str, Ticket]) -> None:
    client, _ = signed_in(db, "ada")
    page = client.get("/queue")
    rows = Rows(page.text)
    assert [r["ref"] for r in rows.rows] == refs(desk, *RUNNING) + by_id(
        desk, "paused", "paused_cb", "new")
    assert "closed" not in {r["ref"] for r in rows.rows}
    ok = next(r for r in rows.rows if r["ref"] == desk["ok"].reference)
    assert (ok["sla_data"]["remaining"], ok["sla_data"]["ticking"]) == (str(45 * 60), "true")
    assert datetime.fromisoformat(ok["sla_data"]["until"]) > NOW  # the desk's next closing
    assert rows.text(ok["ref"], "sla") == "OK 0:45:00 left"
    assert rows.text(desk["breached"].reference, "sla") == "Breached overdue 0:30:00"
    assert "sla-breached" in next(r for r in rows.rows
                                  if r["ref"] == desk["breached"].reference)["sla_class"]
    assert rows.text(desk["at_risk"].reference, "sla") == "At risk 0:05:00 left"
    paused = rows.text(desk["paused"].reference, "sla")
    assert paused == "Paused 0:50:00 left paused — waiting on customer"
    assert rows.text(desk["new"].reference, "sla") == "No clock —"
    assert rows.text(desk["ok"].reference, "assignee") == "bob"
    assert rows.text(desk["at_risk"].reference, "assignee") == "unassigned"
    # each row opens the ticket page; the presence cell waits for the ticket page's data
    ref = desk["ok"].reference
    assert f'<a href="/tickets/{ref}">{ref}</a>' in page.text
    assert f'<td class="presence" data-presence="{ref}"></td>' in page.text
    assert '<script src="/static/queue.js" defer></script>' in page.text
    assert re.search(r'<a href="/queue/escalating"[^>]*>Escalating soon</a>', page.text)


def test_outside_business_hours_a_row_says_when_its_clock_resumes(db: Database) -> None:
    weekdays = SlaBook(BusinessCalendar({d: [Window.parse("09:00-17:00")] for d in range(5)},
                                        timezone="UTC"), POLICIES)
    friday = datetime(2027, 3, 5, 16, 30, tzinfo=UTC)
    ticket = build(Spec(due_in=friday + timedelta(hours=1) - NOW), weekdays)
    store(db, ticket)
    saturday = datetime(2027, 3, 6, 12, 0, tzinfo=UTC)
    client, _ = signed_in(db, "ada", book=weekdays, now=saturday)
    rows = shown(client, "/queue")
    assert rows.text(ticket.reference, "sla") == (
        "OK 0:30:00 left outside hours — resumes Mon 09:00 UTC")
    assert rows.rows[0]["sla_data"] == {"remaining": str(30 * 60), "ticking": "false"}


def test_filters_live_in_the_url_and_narrow_the_queue(db: Database,
                                                      desk: dict[str, Ticket]) -> None:
    client, _ = signed_in(db, "alice")

    def listed(query: str) -> list[str]:
        return [r["ref"] for r in shown(client, "/queue?" + query).rows]

    assert listed("language=fr") == refs(desk, "at_risk", "replied_at_risk", "paused_cb")
    assert listed("language=fr&sla=at_risk") == refs(desk, "at_risk", "replied_at_risk")
    assert listed("sla=breached") == refs(desk, "breached")
    assert listed("state=queued&waiting_on=key-confirmation") == refs(desk, "paused")
    assert listed("method=local_gui") == refs(desk, "at_risk", "paused_cb")
    assert listed("mine=1") == refs(desk, "breached", "replied_ok", "paused")  # alice's
    assert listed("unassigned=1&sla=at_risk") == refs(desk, "at_risk", "replied_at_risk")
    assert listed("state=closed") == refs(desk, "closed")
    # the form shows what the URL says, and an empty field is no filter
    form = client.get("/queue?language=fr&mine=1&state=").text
    assert '<option value="fr" selected>fr</option>' in form
    assert re.search(r'name="mine" value="1" checked', form)
    assert listed("state=&language=&q=") == listed("")
    bad = client.get("/queue?state=lost")
    assert bad.status_code == 400 and "unknown state" in bad.text


def test_search_by_reference_email_phone_or_serial(db: Database) -> None:
    dana = build(Spec(data={"requester__email": "Dana.Whitfield@Example.com",
                            "requester__phone": "+15035550147"}))
    other = build(Spec(data={"requester__email": "someone.else@example.org",
                             "requester__phone": "+33612345678"}))
    store(db, dana, other)
    client, _ = signed_in(db, "ada")
    for text in (dana.reference, "dana.whitfield@example.com", "503 555 0147",
                 str(dana.data["device"]["serial_number"])):
        rows = shown(client, "/queue?" + f"q={text}".replace("+", "%2B").replace(" ", "+"))
        assert [r["ref"] for r in rows.rows] == [dana.reference], text
    page = client.get("/queue?q=nobody@example.com").text
    assert Rows(page).rows == [] and "No ticket matches these filters." in page
    assert 'value="nobody@example.com"' in page


def test_keyset_pages_walk_the_queue_with_next_links(db: Database, desk: dict[str, Ticket],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_pages, "LIMIT", 3)
    client, _ = signed_in(db, "ada")
    url: str | None = "/queue?unassigned=1"
    seen: list[str] = []
    pages = 0
    while url:
        html = client.get(url).text
        rows = Rows(html).rows
        assert 0 < len(rows) <= 3
        seen += [r["ref"] for r in rows]
        pages += 1
        found = re.search(r'<a href="([^"]+)" rel="next">', html)
        url = found[1].replace("&amp;", "&") if found else None
        if url:
            assert "unassigned=1" in url and "after=" in url
        if pages > 1:
            assert '<a href="/queue?unassigned=1" rel="first">' in html
    assert pages == 2
    assert seen == refs(desk, "at_risk", "replied_at_risk") + by_id(desk, "paused_cb", "new")
    stale = client.get("/queue?after=not-a-cursor")
    assert stale.status_code == 400 and "no longer valid" in stale.text


def test_the_rows_fragment_is_the_table_alone_and_shows_changes(db: Database,
                                                                desk: dict[str, Ticket]) -> None:
    client, csrf = signed_in(db, "ada")
    page = client.get("/queue?language=fr").text
    assert 'hx-get="/queue/rows?language=fr"' in page
    assert 'hx-trigger="every 10s, queue-refresh from:body"' in page
    fragment = client.get("/queue/rows?language=fr", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<table" in fragment.text
    ref = desk["at_risk"].reference
    assert Rows(fragment.text).text(ref, "assignee") == "unassigned"
    claimed = client.post(f"/api/v1/tickets/{desk['at_risk'].id}/claim", json={},
                          headers={"X-CSRF-Token": csrf})
    assert claimed.status_code == 200
    again = Rows(client.get("/queue/rows?language=fr").text)
    assert again.text(ref, "assignee") == "ada"
    # signed out, the poller is told to go to the sign-in page (htmx follows HX-Redirect)
    anonymous = client_for(db).get("/queue/rows", headers={"HX-Request": "true"})
    assert (anonymous.status_code, anonymous.headers["HX-Redirect"]) == (401, "/signin")


def test_escalating_soon_lists_breached_and_nearly_due_tickets_first(
        db: Database, desk: dict[str, Ticket], monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = signed_in(db, "alice")
    assert [r["ref"] for r in shown(client, "/queue/escalating").rows] == refs(
        desk, "breached", "at_risk")
    assert [r["ref"] for r in shown(client, "/queue/escalating?within=60").rows] == refs(
        desk, "breached", "at_risk", "ok", "replied_at_risk")
    assert [r["ref"] for r in shown(client, "/queue/escalating?within=60&mine=1").rows] == refs(
        desk, "breached")
    page = client.get("/queue/escalating?within=15").text
    assert 'hx-get="/queue/escalating/rows?within=15"' in page
    assert re.search(r'<a href="/queue/escalating" aria-current="page">Escalating soon</a>', page)
    fragment = client.get("/queue/escalating/rows?within=15").text
    assert "<html" not in fragment and [r["ref"] for r in Rows(fragment).rows] == refs(
        desk, "breached", "at_risk")
    assert client.get("/queue/escalating?within=7").status_code == 400
    monkeypatch.setattr(queue_pages, "URGENT", 1)
    capped = client.get("/queue/escalating").text
    assert [r["ref"] for r in Rows(capped).rows] == refs(desk, "breached")
    assert "1 ticket shown (the most urgent; there are more)" in capped


def assignees(db: Database, *tickets: Ticket) -> list[str | None]:
    with db.reader.begin() as conn:
        found = {r.id: r.assignee for r in conn.execute(select(TICKET.c.id, TICKET.c.assignee)
                                                         .where(TICKET.c.id.in_([t.id for t in tickets])))}
    return [found[t.id] for t in tickets]


def confirmed_count(html: str) -> int:
    found = re.search(r'<p class="confirm-count"><strong>(\d+)</strong>', html)
    assert found, html[:2000]
    return int(found[1])


def test_bulk_confirmation_states_how_many_tickets_change(db: Database,
                                                          desk: dict[str, Ticket]) -> None:
    client, _ = signed_in(db, "ada")
    by_filter = client.get("/queue/bulk?action=claim&scope=filter&language=fr&unassigned=1")
    assert by_filter.status_code == 200
    assert confirmed_count(by_filter.text) == 3  # at_risk, replied_at_risk, paused_cb
    assert ("will be claimed: every ticket matching the current filter (language fr, "
            "unassigned)") in by_filter.text
    assert '<input type="hidden" name="expected" value="3">' in by_filter.text
    ticked = "&".join(f"ticket={desk[n].id}" for n in ("at_risk", "ok"))
    picked = client.get(f"/queue/bulk?action=release&scope=selected&{ticked}").text
    assert confirmed_count(picked) == 2
    assert desk["at_risk"].reference in picked and desk["ok"].reference in picked
    assert desk["breached"].reference not in picked
    none = client.get("/queue/bulk?action=claim&scope=selected").text
    assert "nothing to do" in none and 'action="/queue/bulk"' not in none.split("</header>")[1]


def bulk(client: TestClient, csrf: str, action: str, count: int, *tickets: Ticket,
         **fields: str) -> str:
    answer = client.post("/queue/bulk", data={
        "csrf_token": csrf, "action": action, "scope": "filter" if fields else "selected",
        "expected": str(count), "ticket": [t.id for t in tickets], **fields})
    assert answer.status_code == 200, answer.text[:500]
    return str(answer.text)


def summary(html: str) -> str:
    found = re.search(r'<p class="summary notice" role="status">([^<]*)</p>', html)
    assert found, html[:2000]
    return found[1].replace("&#39;", "'")


def test_bulk_claim_acts_on_each_ticket_and_reports_each_refusal(
        db: Database, desk: dict[str, Ticket]) -> None:
    client, csrf = signed_in(db, "ada")
    picked = [desk[n] for n in ("at_risk", "ok", "new")]
    done = bulk(client, csrf, "claim", 3, *picked)
    assert summary(done) == ("1 claimed, 1 already claimed by bob (a supervisor may take it "
                             "over), 1 cannot claim a ticket that is submitted")
    assert assignees(db, *picked) == ["ada", "bob", None]
    # by the filter: the French unassigned ones left, once the count still holds
    left = [desk["replied_at_risk"], desk["paused_cb"]]
    stale = bulk(client, csrf, "claim", 3, language="fr", unassigned="1")
    assert "no longer the 3 you confirmed" in stale and confirmed_count(stale) == 2
    assert assignees(db, *left) == [None, None]  # nothing changed on a stale count
    assert summary(bulk(client, csrf, "claim", 2, language="fr", unassigned="1")) == (
        "1 claimed, 1 cannot claim a ticket that is remote-session")
    assert assignees(db, *left) == [None, "ada"]
    released = bulk(client, csrf, "release", 2, desk["at_risk"], desk["ok"])
    assert summary(released) == "1 released, 1 the ticket is claimed by bob"


def test_reassigning_in_bulk_is_for_supervisors_only(db: Database,
                                                     desk: dict[str, Ticket]) -> None:
    agent, agent_csrf = signed_in(db, "ada")
    queue = agent.get("/queue").text
    assert 'value="reassign"' not in queue and 'value="claim"' in queue
    refused = agent.get(f"/queue/bulk?action=reassign&to=ada&ticket={desk['ok'].id}")
    assert refused.status_code == 403 and "only a supervisor" in refused.text
    posted = agent.post("/queue/bulk", data={"csrf_token": agent_csrf, "action": "reassign",
                                             "to": "ada", "expected": "1", "ticket": desk["ok"].id})
    assert posted.status_code == 403 and assignees(db, desk["ok"]) == ["bob"]
    boss, boss_csrf = signed_in(db, "sam", role="supervisor")
    assert '<option value="ada">ada</option>' in boss.get("/queue").text
    confirm = boss.get(f"/queue/bulk?action=reassign&scope=selected&to=ada&ticket={desk['ok'].id}")
    assert confirmed_count(confirm.text) == 1 and "to ada</button>" in confirm.text
    done = boss.post("/queue/bulk", data={"csrf_token": boss_csrf, "action": "reassign",
                                          "to": "ada", "scope": "selected", "expected": "1",
                                          "ticket": desk["ok"].id}).text
    assert summary(done) == "1 assigned to ada"
    assert assignees(db, desk["ok"]) == ["ada"]
    nobody = boss.get(f"/queue/bulk?action=reassign&to=ghost&ticket={desk['ok'].id}")
    assert nobody.status_code == 400 and "no enabled agent" in nobody.text


def test_the_keyboard_claim_answers_a_status_line_and_refreshes_the_rows(
        db: Database, desk: dict[str, Ticket]) -> None:
    client, csrf = signed_in(db, "ada")
    ticket = desk["at_risk"]
    answer = client.post("/queue/claim", data={"ticket": ticket.id},
                         headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert answer.status_code == 200 and answer.headers["HX-Trigger"] == "queue-refresh"
    assert f"{ticket.reference}: claimed" in answer.text and "<html" not in answer.text
    other, other_csrf = signed_in(db, "bob")
    lost = other.post("/queue/claim", data={"ticket": ticket.id},
                      headers={"X-CSRF-Token": other_csrf})
    assert "already claimed by ada" in lost.text and 'class="refusal"' in lost.text
    assert assignees(db, ticket) == ["ada"]
    without = other.post("/queue/claim", data={"ticket": ticket.id})
    assert without.status_code == 403 and without.json()["error"] == "csrf"


def test_times_shown_are_business_time_not_wall_time(db: Database) -> None:
    """A clock due Monday 09:30 read on Saturday has 30 business minutes left, not 45 hours."""
    weekdays = SlaBook(BusinessCalendar({d: [Window.parse("09:00-17:00")] for d in range(5)},
                                        timezone="UTC"), POLICIES)
    store(db, build(Spec(due_in=datetime(2027, 3, 5, 17, 30, tzinfo=UTC) - NOW), weekdays))
    client, _ = signed_in(db, "ada", book=weekdays, now=datetime(2027, 3, 8, 9, 20, tzinfo=UTC))
    [row] = shown(client, "/queue").rows
    assert row["sla_data"]["remaining"] == str(10 * 60) and row["sla_data"]["ticking"] == "true"
    assert row["sla_data"]["until"] == "2027-03-08T17:00:00+00:00"
    assert "at_risk" in row["sla_class"]


def test_the_last_update_is_shown_on_the_desks_clock(db: Database) -> None:
    pacific = SlaBook(BusinessCalendar({d: [Window.parse("06:00-16:30")] for d in range(5)},
                                       timezone="America/Los_Angeles"), POLICIES)
    client, _ = signed_in(db, "ada", book=pacific, now=NOW)
    page = client.get("/queue").text
    assert "Updated <time" in page and "04:00:00 PST</time>" in page  # NOW is 12:00 UTC
