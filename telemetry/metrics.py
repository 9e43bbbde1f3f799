"""The metrics every process may record, in the default registry of that process.

Each process exports its own counts (Prometheus sums them across instances); counters count
what this process did since it started. Names follow Prometheus conventions: ``_total`` for
counters, base units (seconds) in the name, labels from small closed sets only (no ticket ids,
no free text). docs/monitoring.md lists them; tests/integration/test_ops_dashboard.py checks that
the Grafana dashboard asks for nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

PREFIX: Final = "resetdesk_"

#: the ``_created`` series double every counter for a figure nobody graphs
disable_created_metrics()  # type: ignore[no-untyped-call]

TRANSITIONS = Counter(
    "resetdesk_ticket_transitions_total", "Ticket state changes committed by this process.",
    ["from_state", "to_state"])
VERIFICATIONS = Counter(
    "resetdesk_verifications_total", "Requests verified by this process, by outcome: verified, "
    "duplicate, or the rule that rejected them (rejected-<rule>).", ["outcome"])
SLA_ALARMS = Counter(
    "resetdesk_sla_alarms_total", "SLA alarms raised by this process (level at_risk or breached).",
    ["clock", "level"])
HANDLER_SECONDS = Histogram(
    "resetdesk_handler_duration_seconds", "Time a handler took over one message, by queue and "
    "result (ack, retry, dead).", ["queue", "result"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
DEAD_LETTERED = Counter(
    "resetdesk_dead_letters_total", "Messages this process dead-lettered, by source queue and "
    "reason code.", ["queue", "reason"])
ARCHIVED = Counter(
    "resetdesk_dead_letters_archived_total", "Dead letters the archiver stored, by source queue "
    "and reason code.", ["queue", "reason"])
EMAILS = Counter(
    "resetdesk_email_sends_total", "Customer emails, by result (sent, skipped, failed_transient, "
    "failed_permanent).", ["result"])
RELAYED = Counter(
    "resetdesk_outbox_published_total", "Outbox events the relay published with a confirm, by "
    "event kind.", ["kind"])
RECEIVED = Counter(
    "resetdesk_requests_received_total", "Requests accepted into the inbox by this process, by "
    "transport (http, amqp).", ["transport"])
SCHEDULER_LEADER = Gauge(
    "resetdesk_scheduler_leader", "1 while this scheduler holds the leader lock, else 0.")
SCHEDULER_LAST_SCAN = Gauge(
    "resetdesk_scheduler_last_scan_timestamp_seconds", "Unix time the last SLA scan of this "
    "scheduler finished (0: none yet).")
SCHEDULER_SCAN_SECONDS = Histogram(
    "resetdesk_scheduler_scan_duration_seconds", "Time one SLA scan took.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

_KIND = re.compile(r"^com\.resetdesk\.(?P<kind>[a-z_.]+?)\.v\d+$")


def event_kind(event_type: str) -> str:
    """``com.resetdesk.ticket.queued.v1`` -> ``ticket.queued`` (others: ``other``)."""
    found = _KIND.match(event_type)
    return found["kind"] if found else "other"


def committed(transitions: Iterable[tuple[str, str, str, str | None]],
              alarms: Iterable[tuple[str, str]]) -> None:
    """What one committed transaction changed: (from, to, trigger, outcome) per transition and
    (clock, level) per SLA alarm. A ticket's first move (from nothing) is counted from ``new``."""
    for from_state, to_state, trigger, outcome in transitions:
        TRANSITIONS.labels(from_state or "new", to_state).inc()
        if trigger in VERIFYING_TRIGGERS:
            VERIFICATIONS.labels(outcome or "verified").inc()
    for clock, level in alarms:
        SLA_ALARMS.labels(clock, level).inc()


#: the triggers the verification step fires on a new ticket: its verdict
VERIFYING_TRIGGERS: Final = frozenset({"verify", "reject", "mark_duplicate"})


def reason_code(reason: str) -> str:
    """A reason as a label: a code (``retries_exhausted``) stays, free text becomes ``other``."""
    code = reason.strip().lower().replace("-", "_")
    return code if re.fullmatch(r"[a-z][a-z0-9_]{0,39}", code) else "other"
