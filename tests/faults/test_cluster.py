"""Scale-out on a 3-node RabbitMQ cluster (issue #14): 3 ``consume verification`` processes and 2
``scheduler`` processes (tests/faults/cluster.py) on quorum queues with a member on every node;
300 requests published over AMQP by three producers, one per node, paced over about 10 s; a third
of the way through, the node leading the ``verification`` queue is SIGKILLed (a crash: no
shutdown, no leader hand-over) and stays down. Producers whose node went publish to the next node (same id
again: ResetDesk deduplicates), consumers reconnect through their failover URL to the next node,
the queue elects a new leader among the two left.

Afterwards every accepted request is exactly one ticket (``lost=0 duplicated=0``) with the audit
trail submit → verify → enqueue, and — two schedulers, one leader — each ticket's two SLA alarms
(a 24x7 calendar and a 3.6 s first-reply SLA) were raised exactly once.

Knobs for development runs: ``RESETDESK_CLUSTER_REQUESTS`` (300),
``RESETDESK_CLUSTER_PUBLISH_SECONDS`` (10).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from schemas.client import ContractError, PublishError, RequestPublisher
from tests.e2e.requests import request
from tests.faults import cluster as cluster_fixtures
from tests.faults.checks import outcome, safely, tickets_by_key
from tests.faults.cluster import AMQP_SOURCE, CONSUMERS, ClusterLayout
from tests.faults.traffic import Key, Ledger, Refused, Sender, join, paced
from tests.processes import wait_for
from workflow.adapters.tables import SLA_ALARM, TICKET

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]
booting_cluster = cluster_fixtures.booting_cluster  # fixtures
cluster_layout = cluster_fixtures.cluster_layout

REQUESTS = int(os.environ.get("RESETDESK_CLUSTER_REQUESTS", "300"))
PUBLISH_SECONDS = float(os.environ.get("RESETDESK_CLUSTER_PUBLISH_SECONDS", "10"))
SETTLE = 90.0


class FailoverSender(Sender):
    """The producers' client on one node at a time, starting at its own: a send its node does
    not confirm moves it to the next node, and the request goes again from there."""

    path = "amqp"

    def __init__(self, name: str, events: list[dict[str, Any]], ledger: Ledger, *,
                 urls: list[str], **pacing: Any) -> None:
        super().__init__(name, events, ledger, **pacing)
        self.publishers = [RequestPublisher(u, confirm_timeout=5, connect_timeout=2, retries=0)
                           for u in urls]
        self.current = 0
        self.moves = 0

    def send(self, event: dict[str, Any]) -> tuple[bool, str]:
        try:
            self.publishers[self.current].publish_request(event)
        except ContractError as err:
            raise Refused(f"the client refused the event: {err}") from err
        except PublishError as err:
            self.current = (self.current + 1) % len(self.publishers)
            self.moves += 1
            return False, f"{type(err).__name__}: {err}"
        return True, ""

    def close(self) -> None:
        for publisher in self.publishers:
            publisher.close()


def senders_for(lay: ClusterLayout, ledger: Ledger, t0: float,
                stop: threading.Event) -> list[Sender]:
    events = [request(source=AMQP_SOURCE) for _ in range(REQUESTS)]
    nodes = lay.cluster.nodes
    senders: list[Sender] = []
    for i in range(len(nodes)):
        share = events[i::len(nodes)]
        urls = [lay.desk.url("producer", port=n.amqp_port) for n in nodes[i:] + nodes[:i]]
        senders.append(FailoverSender(f"amqp-{i + 1}", share, ledger, urls=urls, start_at=t0,
                                      gap=PUBLISH_SECONDS / len(share), stop=stop,
                                      deadline=t0 + PUBLISH_SECONDS + 60))
    return senders


def test_a_node_of_the_cluster_crashes_mid_run_and_every_request_is_processed_once(
        cluster_layout: ClusterLayout) -> None:
    lay, ledger, stop = cluster_layout, Ledger(), threading.Event()
    began = time.monotonic()
    nodes = lay.cluster.nodes
    victim = lay.node(lay.queue_leader("verification", via=nodes[1]))
    survivor = next(n for n in nodes if n is not victim)
    home = nodes.index(victim)  # consumer, scheduler and producer number home + 1 lived there
    senders = senders_for(lay, ledger, began + 0.3, stop)
    tickets = lambda: safely(lambda: lay.desk.count(TICKET), -1)  # noqa: E731
    try:
        paced(senders)
        wait_for("a third of the requests to be tickets", lambda: tickets() >= REQUESTS // 3, 60,
                 every=0.2)
        at, before = time.monotonic() - began, tickets()
        lay.aim_at(survivor)
        victim.kill()
        t = time.monotonic()
        moved = lay.procs[f"verification-{home + 1}"]
        # the queue keeps counting a consumer of the dead node (quorum queues mark it
        # suspected down, in case it comes back): the moved consumer's own log is the proof
        wait_for(f"{moved.name} to subscribe on another node",
                 lambda: moved.log().count("consumer verification: consuming") >= 2
                 and lay.consumers() >= CONSUMERS, 60, every=0.3)
        back = time.monotonic() - t
        new_leader = lay.queue_leader("verification", via=survivor)
        assert join(senders, PUBLISH_SECONDS + 90 - (time.monotonic() - began)), "senders stuck"
    finally:
        stop.set()
        join(senders, 15)
    print(f"node {victim.name} (leading verification) SIGKILLed at {at:.1f} s with {before} "
          f"tickets; {moved.name} subscribed again {back:.1f} s later ({lay.consumers()} consumers "
          f"counted); new leader {new_leader}; producers moved "
          f"{[getattr(s, 'moves', 0) for s in senders]} time(s); sends {dict(ledger.sends)}, "
          f"not accepted and sent again {dict(ledger.refused)}", flush=True)
    assert not ledger.errors, ledger.errors[:5]
    assert not ledger.gave_up and len(ledger.accepted) == REQUESTS, ledger.last_refusal
    assert new_leader != victim.name

    accepted = set(ledger.accepted)
    none: dict[Key, list[str]] = {}
    wait_for("a ticket for every accepted request",
             lambda: accepted <= set(safely(lambda: tickets_by_key(lay.desk), none)), SETTLE)
    wait_for("both SLA alarms of every ticket",
             lambda: lay.desk.count(SLA_ALARM) >= 2 * len(accepted), SETTLE, every=0.5)
    out = outcome(lay.desk, accepted, [])
    print(f"cluster summary: accepted={len(accepted)} tickets={len(out.ticket_ids)} "
          f"lost={len(out.lost)} duplicated={out.duplicated} states={dict(out.states)} "
          f"at_risk={out.alarms['at_risk']} breached={out.alarms['breached']} "
          f"took={time.monotonic() - began:.0f}s", flush=True)

    assert out.lost == [] and out.duplicated == 0 and out.phantoms == []
    assert out.inbox_not_done == [], out.inbox_not_done[:5]
    assert out.bad_trails == {}, dict(list(out.bad_trails.items())[:5])
    assert out.tickets_missing_alarms == 0 and out.alarms_twice == []
    assert lay.dead_processes() == [], f"processes died: {lay.dead_processes()}"
    assert "connection lost" in moved.log(), f"{moved.name} never lost its node:\n{moved.log()}"
