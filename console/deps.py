"""What the web side needs from the composition root, handed over as one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from workflow.adapters import bus_wiring
from workflow.adapters.queries import Database
from workflow.domain.policies import Policies
from workflow.domain.throttle import ThrottleLimits
from workflow.service.bus import MessageBus
from workflow.service.commands import Command
from workflow.service.dead_letter_ports import DeadLetterActions
from workflow.service.human_check import HumanCheckVerifier
from workflow.service.ops_ports import BrokerReader
from workflow.service.ports import Clock, UnitOfWork
from workflow.service.throttle import Throttle

R = TypeVar("R")


@dataclass
class WebDeps:
    #: the read handle the routes' queries take (changes go through ``handle``)
    db: Database
    clock: Clock
    verifier: HumanCheckVerifier
    uow: Callable[[], UnitOfWork]
    #: signs customer links (HMAC)
    secret_key: bytes = b""
    #: called after intake committed a message (embedded mode wakes its workers)
    on_recorded: Callable[[], None] = field(default=lambda: None)
    #: production: intake writes an outbox row with the inbox row, and the relay carries the
    #: request to the verification consumers (no worker in the HTTP process)
    relay_intake: bool = False
    public_url: str | None = None
    #: the deployment's policies (callback slots, key and code lifetimes, rate limits …)
    policies: Policies = field(default_factory=Policies)
    #: the shared rate limits; None builds them over ``db`` from ``policies.throttle`` on
    #: first use
    throttle: Throttle | None = None
    #: the message bus every move goes through; None builds it over ``db`` on first use
    bus: MessageBus | None = None
    #: retry and discard dead letters (the composition root's, with the broker's republisher);
    #: None: the dead-letter page lists but cannot act
    dead_letters: DeadLetterActions | None = None
    #: reads the broker's queues for the ops pages; None: embedded mode (the queues are rows)
    broker: BrokerReader | None = None
    #: embedded mode's inbox workers (the ops pages' consumers of the embedded queue)
    workers: int | None = None

    def message_bus(self) -> MessageBus:
        if self.bus is None:
            self.bus = bus_wiring.sql_bus(
                self.db, self.uow, self.clock, secret_key=self.secret_key,
                public_url=self.public_url, policies=self.policies,
                verifier=self.verifier)
        return self.bus

    def handle(self, cmd: Command[R]) -> R:
        """Decode -> build a command -> here: the one way a route changes anything."""
        return self.message_bus().handle(cmd)

    def build_throttle(self, limits: ThrottleLimits) -> Throttle:
        return bus_wiring.sql_throttle(self.db, limits)
