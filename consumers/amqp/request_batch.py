"""Group commit for the verification consumer (``RESETDESK_AMQP__BATCH_SIZE`` > 1).

A batch of deliveries is handled in three steps:

1. per message, before any write, what :meth:`VerificationConsumer.screen` decides: a refusal
   (undecodable, reserved headers, unknown producer) is final; a second copy of the same
   (source, id) in the batch, and whatever only the one-message path takes (relayed requests,
   operator replays), is left for step 3;
2. the admitted requests go through the bus as ``RecordRequest`` — the same handler as one
   message at a time — over :class:`BatchTransactions`' shared
   transaction: one connection checkout, one commit. Requests already in the inbox (replays
   after a crash) are left for step 3. If anything fails, the whole transaction is rolled
   back and every admitted request is left for step 3;
3. what is left runs alone, after the commit, exactly as without batching (a replay is then
   acked as already processed; a request that failed is retried or dead-lettered with its
   reason, and fails no other one).

The verdicts are returned only after the commit, so every ack follows it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from consumers.amqp.delivery import Delivery, Verdict
from consumers.amqp.requests import Admitted, VerificationConsumer
from workflow.domain.errors import brief
from workflow.logcontext import log_context
from workflow.service.bus import MessageBus
from workflow.service.inbox_ports import InboxKey
from workflow.service.intake import Intake
from workflow.service.ports import UnitOfWork

log = logging.getLogger("consumers.amqp.consumer")


class BatchTransaction(Protocol):
    def existing(self, keys: Iterable[InboxKey]) -> set[InboxKey]:
        """Which of ``keys`` the inbox holds already."""


class BatchTransactions(Protocol):
    """One shared transaction per batch (the composition root's
    ``workflow.adapters.batch_uow.BatchScope``)."""

    def uow(self) -> UnitOfWork:
        """A view of the calling thread's open batch: ``commit()`` is deferred to the batch's."""

    def transaction(self) -> AbstractContextManager[BatchTransaction]:
        """Open a batch on this thread; commit when the block ends well, else roll back and
        raise."""


@dataclass
class BatchVerification:
    """A :class:`VerificationConsumer` that can also take a batch (see the module docstring)."""

    consumer: VerificationConsumer
    scope: BatchTransactions
    bus: MessageBus = field(init=False)

    def __post_init__(self) -> None:
        self.bus = self.consumer.handler.message_bus().over(self.scope.uow)

    def __call__(self, delivery: Delivery) -> Verdict:
        return self.consumer(delivery)

    def handle_batch(self, deliveries: Sequence[Delivery]) -> list[Verdict]:
        if not deliveries:
            return []
        verdicts: list[Verdict | None] = [None] * len(deliveries)
        admitted: dict[int, Admitted] = {}
        keys: set[InboxKey] = set()
        for i, delivery in enumerate(deliveries):
            try:
                screened = self.consumer.screen(delivery)
            except Exception:  # e.g. the database behind a look-up: the alone path decides
                log.exception("consumer: screening a message failed; it goes alone")
                continue
            if isinstance(screened, Verdict):
                verdicts[i] = screened
            elif screened is not None:
                key = InboxKey(screened.event.source, screened.event.id)
                if key not in keys:  # a second copy goes alone, after the first is committed
                    keys.add(key)
                    admitted[i] = screened
        written: dict[int, Intake] = self._write(admitted) if admitted else {}
        for i, intake in written.items():
            verdicts[i] = self.consumer.after_intake(intake, admitted[i].event, deliveries[i])
        alone = sum(1 for v in verdicts if v is None)
        log.info("consumer %s: batch of %d: %d in one transaction, %d refused, %d alone",
                 deliveries[0].queue.name, len(deliveries), len(written),
                 len(deliveries) - len(written) - alone, alone)
        return [v if v is not None else self._alone(d) for v, d in zip(verdicts, deliveries,
                                                                        strict=True)]

    def _write(self, admitted: dict[int, Admitted]) -> dict[int, Intake]:
        """The admitted requests in one transaction; {} when it was rolled back."""
        intakes: dict[int, Intake] = {}
        try:
            with self.scope.transaction() as tx:
                known = tx.existing(InboxKey(a.event.source, a.event.id)
                                    for a in admitted.values())
                for i, request in admitted.items():
                    if InboxKey(request.event.source, request.event.id) not in known:
                        intakes[i] = self.bus.handle(request.command())
        except Exception as err:  # the database, a conflict, a bug: each one alone instead
            log.warning("consumer: batch of %d rolled back (%s); one message at a time",
                        len(admitted), brief(err))
            return {}
        return intakes

    def _alone(self, delivery: Delivery) -> Verdict:
        message_id = delivery.properties.get("message_id")
        with log_context(message_id=None if message_id is None else str(message_id)):
            try:
                return self.consumer(delivery)
            except Exception as err:  # as the one-message workers do: bounded retries
                log.exception("consumer: handler failed on message %s", message_id)
                return Verdict.retry(brief(err))
