"""The verification consumer: AMQP intake of ``com.resetdesk.request.submitted.v1``.

Per delivery, in a worker thread: who sent it (the broker-validated ``user_id`` names the
producer, or it is the system's own broker user when the relay republished a request accepted
over HTTP and already in the inbox); decode it (either content mode of the CloudEvents RabbitMQ
binding); hand it to the bus as ``RecordRequest``, the intake HTTP uses too (source check, inbox
row; in the common case the ticket as well, in the same transaction). A replay of a processed
message is simply acked; the same (source, id) with other content is dead-lettered, and so is a
message whose row was dead-lettered before, unless an operator replays it. Otherwise the same
:class:`RequestHandler` the embedded workers run makes the ticket. Every refusal is a dead
letter with a reason: nothing here is requeued, and nothing sleeps.

Producers cannot set the reserved ``x-resetdesk-*`` headers: a first delivery carrying one is
dead-lettered (``reserved_header``); ``x-resetdesk-replay-of`` counts only when it names a dead
letter an operator replayed whose body is this message's (else ``forged``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from consumers.amqp.consumer import Delivery, Verdict
from consumers.request_handling import Disposition, RequestHandler
from schemas.envelope import InboundEvent
from schemas.errors import ContractError
from schemas.registry import decode_amqp
from telemetry import metrics
from workflow.adapters.queries import accounts, dead_letters, inbox
from workflow.adapters.queries.accounts import Producer
from workflow.domain.actors import Actor
from workflow.domain.errors import NotFound
from workflow.service.commands import RecordRequest
from workflow.service.inbox_ports import ContentConflict, InboxKey
from workflow.service.intake import Intake, WrongSource

#: set by ``resetdesk dlq replay`` (consumers/amqp/dlq.py) on a dead letter it republishes
REPLAY_HEADER = "x-resetdesk-replay-of"
RESERVED_PREFIX = "x-resetdesk-"
#: what our own retry copies add (they keep the producer's user_id and carry ``x-death``)
RETRY_HEADERS = frozenset({"x-resetdesk-last-error"})


@dataclass(frozen=True)
class Admitted:
    """A producer's request that passed every check made before the write."""

    event: InboundEvent
    producer: Producer

    def command(self) -> RecordRequest:
        return RecordRequest(actor=Actor.producer(self.producer.name), event=self.event,
                             producer_source=self.producer.source,
                             verify_now=True)  # the verification step follows in this delivery


@dataclass
class VerificationConsumer:
    handler: RequestHandler
    #: the system's own RabbitMQ user (the relay's): its copies are trusted as already accepted
    system_user: str | None = None
    #: how long one attempt may hold the inbox row before another consumer may take it
    lease: timedelta = timedelta(seconds=120)
    #: known producers by RabbitMQ user, briefly cached (the lookup would otherwise be a query
    #: per message): a removed or disabled producer is refused within this long; an unknown
    #: user is never cached, so registering a producer takes effect at once
    producer_ttl: float = 30.0
    _producers: dict[str, tuple[float, Producer | None]] = field(default_factory=dict)

    def _producer(self, user: str) -> Producer | None:
        now = time.monotonic()
        hit = self._producers.get(user)
        if hit is None or hit[0] < now:
            found = accounts.producer_by_name(self.handler.db, user, active_only=True)
            hit = (now + self.producer_ttl, found)
            if hit[1] is None:
                return None
            self._producers[user] = hit
        return hit[1]

    def _header_refusal(self, delivery: Delivery) -> Verdict | None:
        """None when the reserved headers are ours; a dead letter (or a retry while an
        operator's replay is still being committed) when a producer set them."""
        reserved = {k for k in delivery.headers if str(k).lower().startswith(RESERVED_PREFIX)}
        if delivery.headers.get("x-death"):
            reserved -= RETRY_HEADERS
        replay = delivery.headers.get(REPLAY_HEADER)
        reserved.discard(REPLAY_HEADER)
        if reserved:
            return Verdict.dead(f"reserved header(s) {', '.join(sorted(reserved))}: producers may "
                                f"not set {RESERVED_PREFIX}* headers", "reserved_header")
        if replay is None:
            return None
        letter_id = replay if isinstance(replay, int) and not isinstance(replay, bool) else None
        try:
            letter = dead_letters.get(self.handler.db, letter_id) if letter_id else None
        except NotFound:
            letter = None
        if letter is None or letter.body != delivery.body or letter.status == "discarded":
            return Verdict.dead(f"{REPLAY_HEADER} names no dead letter replayed with this body",
                                "forged")
        if letter.status != "replayed":  # the replay's transaction commits after the confirm
            return Verdict.retry(f"dead letter {letter.id} is being replayed")
        return None

    def __call__(self, delivery: Delivery) -> Verdict:
        user = delivery.user_id
        if user is None:
            return Verdict.dead("no user_id property: producers must publish with user_id set "
                                "to their RabbitMQ user", "missing_user_id")
        try:
            event = decode_amqp(delivery.headers, delivery.body, delivery.content_type)
        except ContractError as err:
            return Verdict.dead(err.reason, err.code)
        if user == self.system_user:
            relayed = self._relayed(event, delivery)
            if relayed is not None:
                return relayed
        admitted = self._admit(event, delivery, user)
        if isinstance(admitted, Verdict):
            return admitted
        try:
            intake = self.handler.handle(admitted.command())
        except (WrongSource, ContentConflict) as err:
            return Verdict.dead(str(err), err.code)
        return self.after_intake(intake, event, delivery)

    def screen(self, delivery: Delivery) -> Verdict | Admitted | None:
        """What group commit decides before its write: a refusal, a producer's request to
        record, or None for what only the path above takes (the system user's relayed
        requests, an operator's replay, a source that is not the producer's)."""
        user = delivery.user_id
        if user is None or user == self.system_user or REPLAY_HEADER in delivery.headers:
            return None
        try:
            event = decode_amqp(delivery.headers, delivery.body, delivery.content_type)
        except ContractError as err:
            return Verdict.dead(err.reason, err.code)
        admitted = self._admit(event, delivery, user)
        if isinstance(admitted, Admitted) and event.source != admitted.producer.source:
            return None
        return admitted

    def _admit(self, event: InboundEvent, delivery: Delivery, user: str) -> Verdict | Admitted:
        refused = self._header_refusal(delivery)
        if refused is not None:
            return refused
        producer = self._producer(user)
        if producer is None:
            return Verdict.dead(f"user {user!r} is not a registered producer", "unknown_producer")
        return Admitted(event, producer)

    def after_intake(self, intake: Intake, event: InboundEvent, delivery: Delivery) -> Verdict:
        """The verdict once ``RecordRequest`` returned (committed): done, a replay, or the
        recorded row still to process."""
        if not intake.replay:
            metrics.RECEIVED.labels("amqp").inc()
        if intake.processed is not None:  # recorded and verified in one transaction
            return Verdict.ack("applied" if intake.processed.applied else "already processed")
        key = InboxKey(event.source, event.id)
        if intake.replay and intake.status == "done":
            return Verdict.ack(f"replay of {intake.reference}, already processed")
        if intake.replay and intake.status == "dead":
            if REPLAY_HEADER not in delivery.headers:
                earlier = inbox.status(self.handler.db, key.source, key.event_id)
                why = earlier.last_error if earlier and earlier.last_error else "no reason kept"
                return Verdict.dead(f"dead-lettered before: {why}", "dead_before")
            self._revive(key)
        return self._process(key, delivery)

    def _relayed(self, event: InboundEvent, delivery: Delivery) -> Verdict | None:
        """A request the HTTP intake accepted (its inbox row was written with the outbox row
        the relay published). None: no such row, so treat it as a producer's message."""
        found = inbox.status(self.handler.db, event.source, event.id)
        if found is None:
            return None
        if found.status == "done":
            return Verdict.ack(f"replay of {found.reference}, already processed")
        key = InboxKey(event.source, event.id)
        if found.status == "dead":
            if REPLAY_HEADER not in delivery.headers:
                return Verdict.dead(f"dead-lettered before: {found.last_error or 'no reason kept'}",
                                    "dead_before")
            self._revive(key)
        return self._process(key, delivery)

    def _revive(self, key: InboxKey) -> None:
        now = self.handler.clock.now()
        self.handler.bookkeep(lambda u: u.inbox_queue.revive(key, now))

    def _process(self, key: InboxKey, delivery: Delivery) -> Verdict:
        outcome = self.handler.handle_delivered(
            key, attempt=delivery.attempt,
            max_attempts=delivery.max_attempts, lease=self.lease)
        if outcome.disposition is Disposition.DONE:
            return Verdict.ack(outcome.detail)
        if outcome.disposition is Disposition.RETRY:
            return Verdict.retry(outcome.detail)
        code = "retries_exhausted" if delivery.attempt >= delivery.max_attempts else "unprocessable"
        return Verdict.dead(outcome.detail, code)
