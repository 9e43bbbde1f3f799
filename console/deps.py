"""What the web side needs from the composition root, handed over as one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workflow.adapters.db import Database
from workflow.adapters.human_check import HumanCheckVerifier
from workflow.service.ports import Clock, UnitOfWork
from workflow.service.throttle import Throttle


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
