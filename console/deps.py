"""What the web side needs from the composition root, handed over as one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from workflow.adapters.bus_wiring import sql_bus
from workflow.adapters.db import Database
from workflow.adapters.human_check import HumanCheckVerifier
from workflow.service.bus import MessageBus
from workflow.service.commands import Command
from workflow.service.ports import Clock, UnitOfWork
from workflow.service.throttle import Throttle

R = TypeVar("R")


@dataclass
class WebDeps:
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
    #: resolution-path settings (code lifetime, slot length …), by name
    options: dict[str, Any] = field(default_factory=dict)
    #: the shared rate limits; None builds them over ``db`` from ``options`` (throttle_enabled,
    #: intake_rate_per_minute …) on first use
    throttle: Throttle | None = None
    #: the message bus every move goes through; None builds it over ``db`` on first use
    bus: MessageBus | None = None

    def handle(self, cmd: Command[R]) -> R:
        """Decode -> build a command -> here: the one way a route changes anything."""
        if self.bus is None:
            self.bus = sql_bus(self.db, self.uow, self.clock, secret_key=self.secret_key,
                               public_url=self.public_url, options=self.options)
        return self.bus.handle(cmd)
