"""The agents' ticket page over HTTP against a real database (SQLite and PostgreSQL): what it
shows, which buttons the declaration gives each role in each state, the moves, replies, macros
and notes going through the bus, races settled by the version, and presence shared by two app
instances over one database."""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from schemas.requests_v1 import RequestSubmittedV1
from schemas.sample import sample_request_data, unique_serial
from tests.factories import T0, make_ticket
from tests.fake_bus import MovableClock
from tests.web import page_sign_in, web_client
from workflow.adapters import accounts
from workflow.adapters.db import Database, open_database
from workflow.adapters.queries.presence import Present, presence_for
from workflow.adapters.rules_file import load_rule_book
from workflow.adapters.tables import AUDIT, OUTBOX
from workflow.adapters.tables_presence import PRESENCE
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.actors import Actor
from workflow.domain.callback_slots import Attempt
from workflow.domain.errors import ActorRefused, AlreadyExists
from workflow.domain.states import State
from workflow.service.housekeeping_commands import PrunePresence
from workflow.service.ports import InboxEntry
from workflow.service.verification import ProcessRequest, process_request

RULES = load_rule_book()
ROLES = {"ada": "agent", "bob": "agent", "sam": "supervisor"}


def submit(db: Database, clock: MovableClock, reference: str, **overrides: Any) -> str:
    """A request recorded and verified as intake does (audit trail, acknowledgement email,
    inbox row with the human check); the ticket's id."""
    overrides.setdefault("device__serial_number", unique_serial())
    request = RequestSubmittedV1.model_validate(sample_request_data(**overrides))
    done = process_request(SqlUnitOfWork(db), clock, RULES, ProcessRequest(
        "urn:test", reference, reference, "webform", True, request,
        new_entry=InboxEntry("request", "webform", "d", "{}", "passed")))
    return done.ticket_id


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(T0)


class Agent:
    """One agent's browser: a client with its own cookies, signed in through /signin."""

    def __init__(self, client: TestClient, db: Database, login: str) -> None:
        self.client, self.login = client, login
        password = f"{login}-password-123"
        with contextlib.suppress(AlreadyExists):  # made already through the other instance
            accounts.add_agent(db, login, password, role=ROLES[login])
        self.csrf = page_sign_in(client, login, password)

    def get(self, path: str) -> Any:
        return self.client.get(path, follow_redirects=False)

    def post(self, path: str, csrf: bool = True, **data: Any) -> Any:
        if csrf:
            data["csrf_token"] = self.csrf
        return self.client.post(path, data=data, follow_redirects=False)

    def htmx(self, path: str, **data: Any) -> Any:
        return self.client.post(path, data=data, headers={"HX-Request": "true",
                                                          "X-CSRF-Token": self.csrf})


@pytest.fixture
def desk(db: Database, clock: MovableClock) -> Iterator[dict[str, Agent]]:
    client = web_client(db, clock)
    yield {login: Agent(TestClient(client.app), db, login) for login in ROLES}


def version(page: str) -> int:
    found = re.search(r'name="expected_version" value="(\d+)"', page)
    assert found, page[:300]
    return int(found[1])


def moves(page: str) -> set[str]:
    """The moves this page offers itself (the resolution panel's come after)."""
    return set(re.findall(r'data-move="(\w+)"', page.partition('<div class="resolution">')[0]))


def text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def audit(db: Database, tid: str) -> list[tuple[str, str, str | None]]:
    with db.reader.begin() as conn:
        return [(r.trigger, r.actor, r.reason) for r in conn.execute(
            select(AUDIT).where(AUDIT.c.ticket_id == tid).order_by(AUDIT.c.id))]


def emails(db: Database, tid: str) -> list[dict[str, Any]]:
    with db.reader.begin() as conn:
        rows = conn.execute(select(OUTBOX.c.payload).where(
            OUTBOX.c.ticket_id == tid, OUTBOX.c.type == "com.resetdesk.notification.email.v1")
            .order_by(OUTBOX.c.id)).scalars().all()
    return [json.loads(p)["data"] for p in rows]


def claim(agent: Agent, ref: str) -> None:
    answer = agent.post(f"/tickets/{ref}/move/claim",
                        expected_version=version(agent.get(f"/tickets/{ref}").text))
    assert (answer.status_code, answer.headers["location"]) == (303, f"/tickets/{ref}")


def test_the_page_shows_the_request_escaped_the_findings_and_one_timeline(
        db: Database, clock: MovableClock, desk: dict[str, Agent]) -> None:
    tid = submit(db, clock, "RD-PAGE-0001", requester__name="Dana <b>Whitfield</b> & Co",
                 requester__language="fr")
    ada = desk["ada"]
    clock.advance(minutes=1)
    claim(ada, "RD-PAGE-0001")
    clock.advance(minutes=5)
    with SqlUnitOfWork(db) as uow:  # a call and a session step, as their handlers store them
        uow.callbacks.add_attempt(tid, Attempt(clock.now(), "ada", "no_answer", 1, None))
        session = uow.sessions.open_session(tid, clock.now())
        uow.sessions.add_step(tid, session, "network", "open port 8000 <on the NVR>", "agent:ada",
                              clock.now() + timedelta(minutes=1))
        uow.commit()
    clock.advance(minutes=5)
    assert ada.post("/tickets/RD-PAGE-0001/notes", body="customer prefers <email>").status_code == 303
    clock.advance(hours=2)
    page = ada.get("/tickets/rd-page-0001")
    assert page.status_code == 200
    shown = text(page.text)
    assert "<b>Whitfield" not in page.text and "Dana &lt;b&gt;Whitfield&lt;/b&gt; &amp; Co" in page.text
    for field in ("Dana <b>Whitfield</b> & Co", "dana.whitfield@example.com", "+15035550147",
                  "DS-7608NI-I2/8P", "V4.62.210 build 220607", "sadp", "US"):
        assert field in shown, field
    assert "Verdict at intake: all checks passed" in shown
    assert re.findall(r'data-rule="(\w+)"', page.text) == [
        "check_human", "check_attestation", "check_region", "check_method", "check_serial"]
    kinds = re.findall(r'<li class="entry \w+" data-kind="(\w+)"', page.text)
    assert kinds == ["move", "move", "move", "email", "move", "call", "step", "note"]
    assert "open port 8000 <on the NVR>" in shown and "<on the NVR>" not in page.text
    assert "Tue 24 Nov 2026 09:00 PST" in shown and "2 h ago" in shown  # 17:00 UTC, Pacific
    assert "email acknowledgement (fr): waiting to go out" in shown
    # a rejected request shows the rule that failed
    rejected = submit(db, clock, "RD-PAGE-0002", requester__country="FR")
    page = ada.get("/tickets/RD-PAGE-0002").text
    assert "failed: country not served by this desk (region" in text(page)
    assert rejected and moves(page) == set()
    assert ada.get("/tickets/RD-NONE-0000").status_code == 404


def test_the_buttons_are_the_moves_the_declaration_gives_this_role_in_this_state(
        db: Database, clock: MovableClock, desk: dict[str, Agent]) -> None:
    submit(db, clock, "RD-BTNS-0001")
    ada, bob, sam = desk["ada"], desk["bob"], desk["sam"]
    ref = "/tickets/RD-BTNS-0001"
    assert moves(ada.get(ref).text) == {"claim", "resolve", "abandon"}
    assert 'id="reply-message"' not in ada.get(ref).text  # replying needs the claim
    assert moves(sam.get(ref).text) == {"claim", "resolve", "abandon", "reassign"}
    claim(ada, "RD-BTNS-0001")
    mine = ada.get(ref).text
    assert moves(mine) == {"release", "resolve", "abandon", "reject"}  # reject: the holder's
    assert 'id="reply-message"' in mine and 'id="macro"' in mine
    assert moves(bob.get(ref).text) == {"resolve", "abandon"}  # no claim: ada holds it
    supervised = sam.get(ref).text
    assert moves(supervised) == {"take_over", "reassign", "resolve", "abandon"}
    picker = re.search(r'<select id="reassign-to".*?</select>', supervised, re.S)
    assert picker and set(re.findall(r'<option value="(\w+)"', picker[0])) == {"bob", "sam"}
    # destructive moves open a confirmation asking for the reason, not a bare button
    assert re.search(r'<details class="confirm" data-move="resolve">.*?name="reason"[^>]*required',
                     mine, re.S)
    answer = ada.post(f"{ref}/move/resolve", expected_version=version(mine), reason="fixed")
    assert answer.status_code == 303
    assert moves(ada.get(ref).text) == moves(sam.get(ref).text) == {"reopen"}
    # a closed ticket has no reject row: no form, and the machine says so
    refused = ada.post(f"{ref}/reject", expected_version=version(ada.get(ref).text),
                       outcome="rejected-other", reason="spam")
    assert refused.status_code == 409 and "cannot reject a ticket in state closed" in text(refused.text)


def test_the_holder_rejects_a_claimed_ticket_with_an_outcome_and_a_reason(
        db: Database, clock: MovableClock, desk: dict[str, Agent]) -> None:
    tid = submit(db, clock, "RD-REJE-0001")
    ada, bob = desk["ada"], desk["bob"]
    ref = "/tickets/RD-REJE-0001"
    assert "reject" not in moves(ada.get(ref).text)  # claim it first
    claim(ada, "RD-REJE-0001")
    mine = ada.get(ref).text
    form = re.search(r'<details class="confirm" data-move="reject">.*?</details>', mine, re.S)
    assert form and 'name="reason"' in form[0] and "rejected-attestation" in form[0]
    # not the holder: the guard refuses (and bob's page has no form)
    assert "reject" not in moves(bob.get(ref).text)
    theirs = bob.post(f"{ref}/reject", expected_version=version(mine),
                      outcome="rejected-other", reason="spam")
    assert theirs.status_code == 409 and "The ticket is claimed by ada." in text(theirs.text)
    # no outcome or no reason: the form is refused before the bus
    bare = ada.post(f"{ref}/reject", expected_version=version(mine), outcome="rejected-other",
                    reason=" ")
    assert bare.status_code == 422 and "give a reason" in text(bare.text)
    done = ada.post(f"{ref}/reject", expected_version=version(mine),
                    outcome="rejected-attestation", reason="not the device's owner")
    assert (done.status_code, done.headers["location"]) == (303, f"{ref}")
    page = ada.get(ref).text
    assert moves(page) == set()  # rejected: not reopenable
    assert "rejected-attestation" in text(page)
    entries = re.findall(r'<li class="entry move".*?</li>', page, re.S)
    assert "agent:ada" in entries[-1] and "outcome rejected-attestation" in text(entries[-1])
    assert "not the device's owner" in text(entries[-1])
    assert audit(db, tid)[-1] == ("reject", "agent:ada", "not the device's owner")


def test_staff_cannot_reject_a_request_that_is_not_queued_yet(
        db: Database, clock: MovableClock, desk: dict[str, Agent]) -> None:
    sam = desk["sam"]
    with SqlUnitOfWork(db) as uow:  # a request recorded, not verified yet
        ticket = make_ticket(State.SUBMITTED, reference="RD-REJE-0002", assignee="sam")
        uow.tickets.add(ticket)
        uow.commit()
    ref = "/tickets/RD-REJE-0002"
    assert "reject" not in moves(sam.get(ref).text)
    with SqlUnitOfWork(db, read_only=True) as uow:
        seen = uow.tickets.get(ticket.id).version
    refused = sam.post(f"{ref}/reject", expected_version=seen,
                       outcome="rejected-other", reason="spam")
    assert refused.status_code == 409
    assert "Only the verification worker rejects a request that is not queued yet." in text(
        refused.text)
    with SqlUnitOfWork(db, read_only=True) as uow:
        assert uow.tickets.get(ticket.id).state is State.SUBMITTED
        assert not uow.tickets.history(ticket.id)


def test_a_move_needs_the_csrf_token_and_a_destructive_one_its_reason(
        db: Database, clock: MovableClock, desk: dict[str, Agent]) -> None:
    tid = submit(db, clock, "RD-CSRF-0001")
    ada = desk["ada"]
    v = version(ada.get("/tickets/RD-CSRF-0001").text)
    refused = ada.post("/tickets/RD-CSRF-0001/move/claim", csrf=False, expected_version=v)
    assert refused.status_code == 403 and refused.json()["error"] == "csrf"
    assert ada.htmx("/tickets/RD-CSRF-0001/presence").status_code == 200  # htmx sends the header
    bare = ada.client.post("/tickets/RD-CSRF-0001/presence", data={})
    assert bare.status_code == 403
    no_reason = ada.post("/tickets/RD-CSRF-0001/move/abandon", expected_version=v, reason=" ")
    assert no_reason.status_code == 422 and "Give a reason to abandon" in no_reason.text
    stale_form = ada.post("/tickets/RD-CSRF-0001/move/claim")
    assert stale_form.status_code == 422 and "without the ticket's version" in text(stale_form.text)
    assert [t for t, _, _ in audit(db, tid)] == ["submit", "verify", "enqueue"]


def test_the_loser_of_a_race_reads_who_won_with_a_reload_link(
        db: Database, clock: MovableClock, desk: dict[str, Agent]) -> None:
    submit(db, clock, "RD-RACE-0001")
    ada, bob = desk["ada"], desk["bob"]
    ref = "/tickets/RD-RACE-0001"
    seen = version(bob.get(ref).text)
    assert ada.post(f"{ref}/move/claim", expected_version=seen).status_code == 303
    lost = bob.post(f"{ref}/move/claim", expected_version=seen)
    assert lost.status_code == 409
    assert "Already claimed by ada." in text(lost.text)
    assert f'<a href="{ref}">Reload the ticket</a>' in lost.text
    assert "claimed by ada" in text(lost.text)  # the page shows the ticket as it is now
    # with the fresh version, the guard answers (a supervisor could take it over)
    again = bob.post(f"{ref}/move/claim", expected_version=version(lost.text))
    assert again.status_code == 409
    assert "Already claimed by ada (a supervisor may take it over)." in text(again.text)
    stale = bob.post(f"{ref}/move/resolve", expected_version=seen, reason="done")
    assert stale.status_code == 409 and "changed this ticket since you opened it" in stale.text


def test_canned_reply_preview_and_send_then_go_to_the_next_ticket(
        db: Database, clock: MovableClock, desk: dict[str, Agent]) -> None:
    tid = submit(db, clock, "RD-RPLY-0001", requester__language="fr",
                 requester__name="Élodie <Roy>")
    clock.advance(minutes=1)
    submit(db, clock, "RD-RPLY-0002")
    ada = desk["ada"]
    claim(ada, "RD-RPLY-0001")
    page = ada.get("/tickets/RD-RPLY-0001").text
    assert re.search(r'<option value="sadp_export">', page)
    box = ada.client.get("/tickets/RD-RPLY-0001/canned", params={"canned": "sadp_export"},
                         headers={"HX-Request": "true"})
    assert box.status_code == 200 and box.text.startswith("<textarea")
    message = text(box.text).strip()
    assert message.startswith("Pour réinitialiser le mot de passe de votre DS-7608NI-I2/8P")
    assert "RD-RPLY-0001" in message and "DS-7608NI-I2/8P0820200115CCRR" in message
    letter = "Bonjour <Élodie>,\n" + message
    preview = ada.htmx("/tickets/RD-RPLY-0001/preview", message=letter)
    assert "<pre class=\"letter\">Bonjour &lt;Élodie&gt;,\n" in preview.text
    assert "in French" in preview.text
    sent = ada.post("/tickets/RD-RPLY-0001/reply", message=letter, then="next",
                    expected_version=version(page))
    assert (sent.status_code, sent.headers["location"]) == (303, "/tickets/RD-RPLY-0002")
    [_, reply] = emails(db, tid)
    assert (reply["template"], reply["language"], reply["context"]["message"]) == (
        "reply", "fr", letter.strip())
    assert audit(db, tid)[-1][:2] == ("reply", "agent:ada")
    assert "Bonjour &lt;Élodie&gt;," in ada.get("/tickets/RD-RPLY-0001").text  # in the timeline


def test_before_sending_the_agent_is_warned_of_someone_typing_or_a_change(
        db: Database, clock: MovableClock, desk: dict[str, Agent]) -> None:
    tid = submit(db, clock, "RD-WARN-0001")
    ada, bob = desk["ada"], desk["bob"]
    claim(ada, "RD-WARN-0001")
    ref = "/tickets/RD-WARN-0001"
    page = ada.get(ref).text
    bob.htmx(f"{ref}/presence", activity="typing", version="0")
    first = ada.post(f"{ref}/reply", message="Hello", expected_version=version(page))
    assert first.status_code == 409
    assert "bob is typing a reply to this ticket right now." in text(first.text)
    assert 'name="confirmed" value="1"' in first.text and ">Hello</textarea>" in first.text
    assert len(emails(db, tid)) == 1  # the acknowledgement only: nothing sent yet
    second = ada.post(f"{ref}/reply", message="Hello", confirmed="1",
                      expected_version=version(first.text))
    assert second.status_code == 303 and len(emails(db, tid)) == 2
    # a reply made elsewhere since this page was loaded: warned, then sent on the fresh version
    clock.advance(seconds=31)  # bob's presence has expired
    stale = ada.post(f"{ref}/reply", message="Also…", expected_version=version(page))
    assert stale.status_code == 409
    assert "changed since you opened it (latest: reply (queued) by agent:ada)" in text(stale.text)
    assert "is typing" not in text(stale.text) and ">Also…</textarea>" in stale.text
    done = ada.post(f"{ref}/reply", message="Also…", confirmed="1",
                    expected_version=version(stale.text))
    assert done.status_code == 303 and len(emails(db, tid)) == 3


def test_a_macro_sends_its_reply_then_makes_its_move(
        db: Database, clock: MovableClock, desk: dict[str, Agent]) -> None:
    tid = submit(db, clock, "RD-MACR-0001")
    ada = desk["ada"]
    claim(ada, "RD-MACR-0001")
    ref = "/tickets/RD-MACR-0001"
    review = ada.htmx(f"{ref}/macro/review", macro="ask_full_serial")
    assert review.status_code == 200 and "Send and release" in review.text
    message = text(re.search(r"<textarea[^>]*>(.*?)</textarea>", review.text, re.S)[1])  # type: ignore[index]
    assert message.startswith("Hello Dana Whitfield, to prepare the reset of your DS-7608NI-I2/8P")
    done = ada.post(f"{ref}/macro", macro="ask_full_serial", message=message,
                    reason="asked for the full serial", expected_version=version(review.text))
    assert done.status_code == 303
    assert [(t, r) for t, _, r in audit(db, tid)][-2:] == [
        ("reply", None), ("release", "asked for the full serial")]
    assert emails(db, tid)[-1]["context"]["message"] == message
    # the closing macro asks for its reason first
    claim(ada, "RD-MACR-0001")
    v = version(ada.get(ref).text)
    refused = ada.post(f"{ref}/macro", macro="solved_by_email", message="Done.",
                       expected_version=v)
    assert refused.status_code == 422 and audit(db, tid)[-1][0] == "claim"
    closed = ada.post(f"{ref}/macro", macro="solved_by_email", message="Done.", reason="solved",
                      expected_version=v)
    assert closed.status_code == 303 and audit(db, tid)[-1][0] == "resolve"
    assert moves(ada.get(ref).text) == {"reopen"}


@pytest.fixture
def second_app(db_url: str, clock: MovableClock) -> Iterator[TestClient]:
    """Another app instance (its own engine and bus) over the same database: another
    ``serve`` process."""
    other = open_database(db_url)
    yield web_client(other, clock)
    other.dispose()


def test_presence_is_shared_by_two_app_instances_and_expires(
        db: Database, clock: MovableClock, desk: dict[str, Agent],
        second_app: TestClient) -> None:
    tid = submit(db, clock, "RD-PRES-0001")
    ada = desk["ada"]
    bob = Agent(second_app, db, "bob")
    ref = "/tickets/RD-PRES-0001"
    alone = bob.htmx(f"{ref}/presence", activity="viewing", version="1")
    assert "Nobody else has this ticket open." in alone.text
    ada.htmx(f"{ref}/presence", activity="typing", version="1")
    assert "Also viewing: ada (typing…)" in text(bob.get(ref).text)
    clock.advance(seconds=10)
    ada.htmx(f"{ref}/presence", activity="viewing", version="1")  # between keystrokes
    assert "Also viewing: ada (typing…)" in text(bob.htmx(f"{ref}/presence").text)
    clock.advance(seconds=10)
    assert presence_for(db, [tid, "other"], clock.now()) == {tid: [Present("ada", "viewing"),
                                                                   Present("bob", "viewing")]}
    assert "Also viewing: ada" in text(bob.htmx(f"{ref}/presence").text)
    assert text(ada.htmx(f"{ref}/presence").text).strip() == "Also viewing: bob"
    clock.advance(seconds=31)  # nobody beat since: both rows expired
    assert presence_for(db, [tid], clock.now()) == {}
    assert "Nobody else" in bob.htmx(f"{ref}/presence", version="1").text
    changed = bob.htmx(f"{ref}/presence", version="0")
    assert "This ticket changed since you opened it." in text(changed.text)
    clock.advance(seconds=31)
    bus = second_app.app.state.deps.message_bus()  # type: ignore[attr-defined]
    assert bus.handle(PrunePresence(actor=Actor.system("scheduler"))) == 1  # bob's row
    with db.reader.begin() as conn:
        assert conn.execute(select(PRESENCE)).all() == []
    with pytest.raises(ActorRefused, match="may not PrunePresence"):
        bus.handle(PrunePresence(actor=Actor("agent", "ada")))


@pytest.mark.parametrize("move", ["take_over", "reassign"])
def test_an_agent_posting_a_supervisors_move_is_refused_and_nothing_changes(
        db: Database, clock: MovableClock, desk: dict[str, Agent], move: str) -> None:
    """No button is offered, and a hand-made form post (with a valid CSRF token) is refused by
    the bus: the declaration gives these moves to supervisors only."""
    tid = submit(db, clock, f"RD-SUPV-{move[:4].upper()}")
    ada, bob = desk["ada"], desk["bob"]
    ref = f"/tickets/RD-SUPV-{move[:4].upper()}"
    claim(ada, ref.rsplit("/", 1)[1])
    page = bob.get(ref).text
    assert move not in moves(page)
    path = f"{ref}/reassign" if move == "reassign" else f"{ref}/move/take_over"
    fields: dict[str, Any] = {"expected_version": version(page)}
    if move == "reassign":
        fields.update(to="bob", reason="mine now")
    before = audit(db, tid)
    refused = bob.post(path, True, **fields)
    assert refused.status_code == 403, refused.text[:300]
    assert "only: supervisor" in text(refused.text)
    assert audit(db, tid) == before
