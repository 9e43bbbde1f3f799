"""What the web side needs from the composition root, handed over as one object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from workflow.adapters.db import Database
from workflow.adapters.human_check import HumanCheckVerifier
from workflow.service.ports import Clock


@dataclass
class WebDeps:
    db: Database
    clock: Clock
    verifier: HumanCheckVerifier
    #: called after intake committed a message (embedded mode wakes its workers)
    on_recorded: Callable[[], None] = field(default=lambda: None)
    public_url: str | None = None
