"""The production layout under faults (issue #9): every part its own OS process (tests/faults/
layout.py) on a private RabbitMQ node and a private PostgreSQL cluster; 2,000 requests, half
``POST /events`` to ``serve`` and half published over AMQP with the producers' client, paced
over about a minute by four sender threads that re-send (same id) whatever was not accepted;
meanwhile, in turn: (a) both verification consumers SIGKILLed and restarted, (b) the broker
stopped and started, (c) PostgreSQL stopped at once (``-m immediate``, a crash: WAL replay) and
started, (d) the relay SIGKILLed and restarted, (e) the scheduler leader SIGKILLed (the standby
takes over; the killed one is restarted). Between faults the test waits until the system is
moving again. A 24x7 calendar and a 7.2 s first-reply SLA make every ticket raise an at-risk and
a breach alarm while the test runs.

Afterwards: every accepted request is exactly one ticket (lost=0 duplicated=0), each audit trail
is submit → verify → enqueue with no transition twice, every SLA alarm is raised exactly once
(one ``sla_alarm`` row and one outbox event) and delivered, nothing is dead-lettered.

Knobs for development runs (defaults are what CI runs): ``RESETDESK_FAULTS_REQUESTS`` (2000),
``RESETDESK_FAULTS_HTTP_SHARE`` (0.5; 0 sends everything over AMQP),
``RESETDESK_FAULTS_PUBLISH_SECONDS`` (60).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests import private_postgres as private_pg
from tests.e2e.requests import request
from tests.faults import layout as production_layout
from tests.faults.checks import outcome, safely, sent_outbox, tickets_by_key, unsent_outbox
from tests.faults.layout import AMQP_SOURCE, HTTP_SOURCE, Layout
from tests.faults.traffic import AmqpSender, HttpSender, Key, Ledger, Sender, join, paced
from tests.processes import wait_for
from workflow.adapters.tables import SLA_ALARM, TICKET

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]
private_postgres = private_pg.private_postgres  # fixtures
production = production_layout.production

REQUESTS = int(os.environ.get("RESETDESK_FAULTS_REQUESTS", "2000"))
HTTP_SHARE = float(os.environ.get("RESETDESK_FAULTS_HTTP_SHARE", "0.5"))
PUBLISH_SECONDS = float(os.environ.get("RESETDESK_FAULTS_PUBLISH_SECONDS", "60"))
SENDERS_PER_PATH = 2
MIN_ALARMS = 500
PG_DOWN_SECONDS = 2.0  # how long the database stays down: the fault's size, not a wait
SETTLE = 120.0
STALL = 45.0  # no new ticket (or alarm) for this long: nothing is processing them
#: queues that must be empty at the end (the taps and events.unrouted keep what they got)
WORK_QUEUES = ("verification", "notifications", "escalation")


@dataclass
class Fault:
    name: str
    at: float  # seconds since the traffic started
    accepted_before: int
    detail: str
    back_after: float = 0.0  # from the fault's start until the system moved again


class Faults:
    """Runs the faults one after another and keeps their timings."""

    def __init__(self, lay: Layout, ledger: Ledger, senders: list[Sender], t0: float) -> None:
        self.lay, self.ledger, self.senders, self.t0 = lay, ledger, senders, t0
        self.done: list[Fault] = []
        self.relay_base = self.alarm_base = 0  # outbox rows sent / alarms when (d) / (e) struck

    def tickets(self) -> int:
        return safely(lambda: self.lay.desk.count(TICKET), -1)

    def tickets_moved(self, base: int, need: int = 20) -> Callable[[], bool]:
        """Tickets are being made again (or the traffic is over and nothing is left to make)."""
        def check() -> bool:
            n = self.tickets()
            traffic_over = not any(s.is_alive() for s in self.senders)
            # a gate, not a check: the AMQP half is the part every branch processes
            return n >= base + need or (traffic_over and n >= self.ledger.count("amqp"))
        return check

    def run(self, name: str, act: Callable[[], str], moving: Callable[[], Callable[[], bool]],
            timeout: float = 90) -> None:
        began = time.monotonic()
        fault = Fault(name, began - self.t0, self.ledger.count(), "")
        fault.detail = act()
        wait_for(f"the system to move again after {name}", moving(), timeout, every=0.2)
        fault.back_after = time.monotonic() - began
        self.done.append(fault)
        print(f"fault {name} at {fault.at:.1f} s ({fault.accepted_before} accepted): "
              f"{fault.detail}; moving again after {fault.back_after:.1f} s", flush=True)

    # --- the faults ------------------------------------------------------------------------------

    def kill_consumers(self) -> str:
        for proc in self.lay.verification:
            proc.kill()
        t = time.monotonic()
        for proc in self.lay.verification:
            proc.start()
        wait_for("both verification consumers to subscribe again",
                 lambda: safely(lambda: self.lay.desk.consumers_on("verification"), 0) == 2, 60)
        return f"2 consumers SIGKILLed, subscribed again {time.monotonic() - t:.1f} s after restart"

    def restart_broker(self) -> str:
        stopped = self.lay.rabbit.stop()
        started = self.lay.rabbit.start()
        t = time.monotonic()
        wait_for("every consumer to subscribe after the broker restart", self.lay.subscribed, 90,
                 every=0.3)
        return (f"broker stopped in {stopped:.1f} s, started in {started:.1f} s, consumers back "
                f"{time.monotonic() - t:.1f} s later")

    def crash_database(self) -> str:
        stopped = self.lay.pg.stop("immediate")
        time.sleep(PG_DOWN_SECONDS)
        started = self.lay.pg.start()
        return (f"PostgreSQL stopped (immediate) in {stopped:.1f} s, down {PG_DOWN_SECONDS:g} s, "
                f"up again (WAL replay) in {started:.1f} s")

    def kill_relay(self) -> str:
        self.lay.procs["relay"].kill()
        self.relay_base = safely(lambda: sent_outbox(self.lay.desk), 0)
        self.lay.procs["relay"].start()
        return f"relay SIGKILLed with {self.relay_base} outbox rows sent, restarted"

    def relay_moved(self) -> Callable[[], bool]:
        return lambda: safely(lambda: sent_outbox(self.lay.desk), 0) >= self.relay_base + 20

    def kill_leader(self) -> str:
        pid = wait_for("a scheduler leader", self.lay.leader_pid, 30)
        proc = self.lay.scheduler_by_pid(pid)
        self.alarm_base = safely(lambda: self.lay.desk.count(SLA_ALARM), 0)
        proc.kill()
        t = time.monotonic()
        new = wait_for("the standby to take the lead",
                       lambda: (p := self.lay.leader_pid()) is not None and p != pid and p, 30)
        took = time.monotonic() - t
        proc.start()
        return f"leader {proc.name} (pid {pid}) SIGKILLed; pid {new} led {took:.1f} s later"

    def alarms_moved(self) -> Callable[[], bool]:
        def check() -> bool:
            n = safely(lambda: self.lay.desk.count(SLA_ALARM), 0)
            everything = 2 * self.tickets()  # nothing left to raise: the traffic is over
            return n >= self.alarm_base + 10 or (everything > 0 and n >= everything)
        return check


def senders_for(lay: Layout, ledger: Ledger, t0: float, stop: threading.Event) -> list[Sender]:
    n_http = round(REQUESTS * HTTP_SHARE)
    by_path = {"http": [request(source=HTTP_SOURCE) for _ in range(n_http)],
               "amqp": [request(source=AMQP_SOURCE) for _ in range(REQUESTS - n_http)]}
    pacing = {"start_at": t0, "deadline": t0 + PUBLISH_SECONDS + 90, "stop": stop}
    senders: list[Sender] = []
    for path, events in by_path.items():
        for i in range(SENDERS_PER_PATH):
            share = events[i::SENDERS_PER_PATH]
            if not share:
                continue
            gap = PUBLISH_SECONDS / len(share)
            if path == "http":
                senders.append(HttpSender(f"http-{i}", share, ledger, base=lay.base,
                                          token=lay.http_token, gap=gap, **pacing))
            else:
                senders.append(AmqpSender(f"amqp-{i}", share, ledger, url=lay.desk.url("producer"),
                                          gap=gap, **pacing))
    return senders


def wait_progressing(what: str, done: Callable[[], bool], progress: Callable[[], int],
                     stall: float = STALL, timeout: float = SETTLE) -> None:
    """Wait for ``done``; give up after ``timeout``, or sooner when ``progress`` has not grown
    for ``stall`` seconds (work that nothing processes must not eat the time budget)."""
    began = moved = time.monotonic()
    last = progress()
    while not done():
        now = time.monotonic()
        if (n := progress()) > last:
            last, moved = n, now
        if now - moved > stall or now - began > timeout:
            raise AssertionError(f"gave up waiting for {what}: {last} after {now - began:.0f} s, "
                                 f"none more in the last {now - moved:.0f} s")
        time.sleep(0.5)


def settle(lay: Layout, ledger: Ledger) -> None:
    """Wait (bounded) until every accepted request is a ticket, every ticket raised both alarms,
    the outbox is relayed and the work queues are empty."""
    accepted = set(ledger.accepted)

    def made() -> set[Key]:
        none: dict[Key, list[str]] = {}
        return set(safely(lambda: tickets_by_key(lay.desk), none))

    try:
        wait_progressing("a ticket for every accepted request", lambda: accepted <= made(),
                         lambda: len(made()))
    except AssertionError as err:
        have = made()
        missing = {path: sum(1 for k, p in ledger.accepted.items() if p == path and k not in have)
                   for path in ("http", "amqp")}
        raise AssertionError(f"{err}; accepted requests without a ticket, by path: {missing}"
                             ) from None
    tickets = lay.desk.count(TICKET)
    alarms = lambda: safely(lambda: lay.desk.count(SLA_ALARM), 0)  # noqa: E731
    wait_progressing("both alarms of every ticket", lambda: alarms() >= 2 * tickets, alarms)
    wait_for("the outbox relayed", lambda: unsent_outbox(lay.desk) == 0, SETTLE, every=0.5)

    def drained() -> bool:
        counts = lay.desk.queue_messages()
        return all(n == 0 for q, n in counts.items()
                   if q.startswith(WORK_QUEUES) and not q.endswith(".dlq"))  # asserted below
    wait_for("the work queues (and their retry queues) empty", drained, SETTLE, every=0.5)


def test_the_production_layout_loses_and_duplicates_nothing_under_faults(
        production: Layout) -> None:
    lay, ledger, stop = production, Ledger(), threading.Event()
    began = time.monotonic()
    t0 = began + 0.5
    senders = senders_for(lay, ledger, t0, stop)
    faults = Faults(lay, ledger, senders, t0)
    try:
        paced(senders)
        wait_for("100 tickets before the first fault", lambda: faults.tickets() >= 100, 60)
        faults.run("(a) verification consumers", faults.kill_consumers,
                   lambda: faults.tickets_moved(faults.tickets()))
        faults.run("(b) broker", faults.restart_broker,
                   lambda: faults.tickets_moved(faults.tickets()))
        faults.run("(c) PostgreSQL", faults.crash_database,
                   lambda: faults.tickets_moved(faults.tickets()))
        faults.run("(d) relay", faults.kill_relay, faults.relay_moved)
        faults.run("(e) scheduler leader", faults.kill_leader, faults.alarms_moved)
        traffic_left = sum(s.is_alive() for s in senders)
        assert join(senders, PUBLISH_SECONDS + 120 - (time.monotonic() - t0)), "senders stuck"
    finally:
        stop.set()
        join(senders, 15)
    published = time.monotonic() - t0
    print(f"traffic: {len(ledger.accepted)} accepted in {published:.0f} s (http "
          f"{ledger.count('http')}, amqp {ledger.count('amqp')}); sends {dict(ledger.sends)}; "
          f"not accepted and sent again {dict(ledger.refused)}; last reasons "
          f"{ {p: r[:120] for p, r in ledger.last_refusal.items()} }", flush=True)
    assert not ledger.errors, ledger.errors[:5]
    assert not ledger.gave_up, f"{len(ledger.gave_up)} requests never accepted: {ledger.last_refusal}"
    assert len(ledger.accepted) == REQUESTS

    settle(lay, ledger)
    assert lay.dead_processes() == [], f"processes died: {lay.dead_processes()}"
    lay.desk.read_tap()
    out = outcome(lay.desk, set(ledger.accepted), lay.read_sla_tap())
    queued_delivered = {e["subject"] for e in lay.desk.queued_events}
    dlqs = lay.desk.dead_letter_queues()
    dead_rows = lay.desk.dead_letter_rows()
    took = time.monotonic() - began
    print(f"faults summary: accepted={len(ledger.accepted)} (http {ledger.count('http')}, amqp "
          f"{ledger.count('amqp')}) tickets={len(out.ticket_ids)} lost={len(out.lost)} "
          f"duplicated={out.duplicated} states={dict(out.states)} "
          f"at_risk={out.alarms['at_risk']} breached={out.alarms['breached']} "
          f"sla_events_undelivered={out.sla_undelivered} sla_events_relayed_twice={out.sla_redelivered} "
          f"dead_letters={sum(dlqs.values()) + len(dead_rows)} "
          f"senders_still_running_after_the_faults={traffic_left} published_in={published:.0f}s "
          f"took={took:.0f}s", flush=True)
    for f in faults.done:
        print(f"  {f.name}: at {f.at:.1f} s, back after {f.back_after:.1f} s: {f.detail}")

    assert out.lost == [] and out.duplicated == 0 and out.phantoms == []
    assert out.inbox_not_done == [], out.inbox_not_done[:5]
    assert out.bad_trails == {}, dict(list(out.bad_trails.items())[:5])
    assert out.tickets_missing_alarms == 0 and out.alarms_twice == []
    assert out.alarm_event_mismatch == 0
    assert out.alarms["at_risk"] >= MIN_ALARMS and out.alarms["breached"] >= MIN_ALARMS
    assert out.sla_undelivered == 0, "every raised alarm reached the events exchange"
    assert queued_delivered == out.ticket_ids, "every ticket.queued event was delivered"
    assert dlqs == {q: 0 for q in dlqs} and dead_rows == [], (dlqs, dead_rows[:3])
