"""The intake handlers on the in-memory unit of work: ``RecordRequest`` (source check, replay,
conflict, the human check asked once) and ``VerifyRequest`` (a stored unknown asked again and
committed before the ticket). The transports run the same handlers on the real database in
tests/integration (HTTP intake, the AMQP verification consumer) and tests/e2e."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from schemas.envelope import InboundEvent
from schemas.registry import decode_structured
from tests.e2e.requests import request
from tests.factories import T0
from tests.fakes import FakeUnitOfWork, Store
from workflow.adapters.rules_file import load_rule_book
from workflow.domain.actors import Actor
from workflow.domain.errors import ActorRefused
from workflow.domain.rules import RuleBook
from workflow.service import commands as c
from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.command_handlers import build_bus
from workflow.service.human_check import HumanCheckResult, HumanCheckUnavailable
from workflow.service.inbox_ports import ContentConflict
from workflow.service.intake import WrongSource
from workflow.service.intake_handlers import VERIFIER
from workflow.service.ports import Clock

SOURCE = "urn:test:form"
PRODUCER = Actor.producer("form")
RULES = load_rule_book()
PASSED = HumanCheckResult(True, "ok")
FAILED = HumanCheckResult(False, "robot")
DOWN = HumanCheckResult(False, "provider down", transient=True)


class FixedClock(Clock):
    def now(self) -> datetime:
        return T0


@dataclass
class Scripted:
    """Answers from a script and counts the questions (the real verifiers have tests of
    their own)."""

    answers: list[HumanCheckResult]
    single_use: bool = True
    asked: list[str] = field(default_factory=list)

    def verify(self, token: str, remote_ip: str | None) -> HumanCheckResult:
        self.asked.append(token)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _bus(store: Store, verifier: Scripted, rules: Any = None) -> MessageBus:
    return build_bus(HandlerContext(uow=lambda: FakeUnitOfWork(store), clock=FixedClock(),
                                    verifier=verifier, rules=rules or (lambda: RULES)))


def _event(**overrides: Any) -> InboundEvent:
    return decode_structured(json.dumps(request(source=SOURCE, **overrides)).encode())


def _record(event: InboundEvent, **extra: Any) -> c.RecordRequest:
    return c.RecordRequest(actor=PRODUCER, event=event, producer_source=SOURCE, **extra)


def test_a_request_is_recorded_pending_with_its_human_check_asked_once() -> None:
    store, verifier = Store(), Scripted([PASSED])
    event = _event()
    done = _bus(store, verifier).handle(_record(event, remote_addr="192.0.2.7", relay=True))
    assert (done.replay, done.status, done.processed) == (False, "pending", None)
    row = store.inbox[(SOURCE, event.id)]
    assert (row.reference, row.human_check, row.remote_addr, row.producer, row.relayed) == (
        done.reference, "passed", "192.0.2.7", "form", True)
    assert verifier.asked == [event.data.human_check_token]
    assert not store.tickets  # the worker makes the ticket


def test_a_failed_human_check_is_stored_as_failed() -> None:
    store = Store()
    event = _event()
    _bus(store, Scripted([FAILED])).handle(_record(event))
    assert store.inbox[(SOURCE, event.id)].human_check == "failed"


def test_a_transient_human_check_is_stored_as_unknown_never_as_a_failure() -> None:
    store = Store()
    event = _event()
    done = _bus(store, Scripted([DOWN])).handle(_record(event))
    assert done.status == "pending" and store.inbox[(SOURCE, event.id)].human_check is None


def test_an_event_under_another_source_is_refused_and_nothing_is_asked() -> None:
    store, verifier = Store(), Scripted([PASSED])
    with pytest.raises(WrongSource, match="producer form may only send events with source "
                                          "urn:test:other") as refused:
        _bus(store, verifier).handle(c.RecordRequest(
            actor=PRODUCER, event=_event(), producer_source="urn:test:other"))
    assert refused.value.code == "wrong_source"
    assert not store.inbox and not verifier.asked


def test_a_replay_answers_the_first_reference_without_asking_again() -> None:
    store, verifier = Store(), Scripted([PASSED])
    bus, event = _bus(store, verifier), _event()
    first = bus.handle(_record(event))
    again = bus.handle(_record(event))
    assert (again.replay, again.reference, again.status) == (True, first.reference, "pending")
    assert len(verifier.asked) == 1 and len(store.inbox) == 1


def test_the_same_id_with_other_content_is_a_conflict() -> None:
    store, verifier = Store(), Scripted([PASSED])
    bus, event = _bus(store, verifier), _event()
    bus.handle(_record(event))
    other = decode_structured(json.dumps(request(
        source=SOURCE, id=event.id)).encode())  # a fresh serial
    with pytest.raises(ContentConflict) as conflict:
        bus.handle(_record(other))
    assert conflict.value.code == "conflict" and len(verifier.asked) == 1


def test_only_a_producer_records_a_request() -> None:
    with pytest.raises(ActorRefused):
        _bus(Store(), Scripted([PASSED])).handle(c.RecordRequest(
            actor=Actor.system("verification"), event=_event(), producer_source=SOURCE))


def test_verify_now_makes_the_ticket_in_the_same_transaction() -> None:
    store, verifier = Store(), Scripted([PASSED], single_use=False)
    event = _event()
    done = _bus(store, verifier).handle(_record(event, verify_now=True))
    assert done.processed is not None and done.processed.state == "queued"
    assert (done.replay, done.status) == (False, "done")
    row = store.inbox[(SOURCE, event.id)]
    assert (row.status, row.ticket_id, row.human_check) == ("done", done.processed.ticket_id,
                                                            "passed")
    assert store.commits == 1 and len(verifier.asked) == 1
    assert [a.actor for a in store.audit] == ["producer:form", *["system:verification"] * 2]


def test_verify_now_replayed_answers_as_the_first_copy() -> None:
    store = Store()
    bus, event = _bus(store, Scripted([PASSED], single_use=False)), _event()
    first = bus.handle(_record(event, verify_now=True))
    again = bus.handle(_record(event, verify_now=True))
    assert (again.replay, again.status, again.processed) == (True, "done", None)
    assert again.reference == first.reference and len(store.tickets) == 1


def test_verify_now_with_a_single_use_token_leaves_the_question_to_the_worker() -> None:
    store, verifier = Store(), Scripted([PASSED], single_use=True)
    event = _event()
    done = _bus(store, verifier).handle(_record(event, verify_now=True))
    assert (done.status, done.processed) == ("pending", None) and not verifier.asked
    assert store.inbox[(SOURCE, event.id)].human_check is None


def test_verify_now_with_an_unavailable_check_records_it_for_the_worker() -> None:
    store = Store()
    event = _event()
    done = _bus(store, Scripted([DOWN], single_use=False)).handle(_record(event, verify_now=True))
    assert (done.status, done.processed) == ("pending", None) and not store.tickets


def _verify(store: Store, verifier: Scripted, human: str | None, rules: Any = None) -> Any:
    event = _event()
    recorded = _bus(store, Scripted([DOWN])).handle(_record(event))  # stored as unknown
    return event, _bus(store, verifier, rules).handle(c.VerifyRequest(
        actor=VERIFIER, source=SOURCE, event_id=event.id, reference=recorded.reference,
        producer="form", human_check=human, request=event.data))


def test_the_worker_uses_a_stored_result_and_asks_nobody() -> None:
    store, verifier = Store(), Scripted([FAILED])
    event, done = _verify(store, verifier, "passed")
    assert done.state == "queued" and done.applied and not verifier.asked
    assert store.inbox[(SOURCE, event.id)].status == "done"


def test_the_worker_asks_an_unknown_check_and_commits_it_before_the_ticket() -> None:
    store, verifier = Store(), Scripted([PASSED])

    def rules_broken() -> RuleBook:
        raise RuntimeError("the ticket's transaction fails")

    with pytest.raises(RuntimeError):
        _verify(store, verifier, None, rules_broken)
    [row] = store.inbox.values()
    assert row.human_check == "passed" and row.status == "pending" and not store.tickets
    assert len(verifier.asked) == 1


def test_the_worker_rejects_a_failed_check_and_retries_an_unavailable_one() -> None:
    store = Store()
    _, done = _verify(store, Scripted([FAILED]), None)
    assert (done.state, done.outcome) == ("closed", "rejected-human-check")
    with pytest.raises(HumanCheckUnavailable, match="human check unavailable: provider down"):
        _verify(store, Scripted([DOWN]), None)
