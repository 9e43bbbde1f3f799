"""The message bus over the in-memory unit of work, wired as the composition root wires the real
one: customer links signed, reset keys sealed (``FakeSealer``), a session secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from tests.factories import T0
from tests.fake_stores import FakeSealer
from tests.fakes import FakeUnitOfWork, Store
from workflow.adapters.bus_wiring import packaged_rules
from workflow.domain.reset_keys import KeyLinks
from workflow.service import links
from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.callback_ports import link_maker
from workflow.service.command_handlers import build_bus
from workflow.service.ports import Clock

SECRET = b"fake-bus-secret-key-" * 2
BASE = "https://desk.example"


@dataclass
class MovableClock(Clock):
    at: datetime = T0

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def key_links(base: str | None) -> KeyLinks:
    return KeyLinks(partial(links.sign, SECRET), base or BASE)


def fake_bus(store: Store, clock: Clock, **ctx: Any) -> MessageBus:
    """``ctx`` replaces any part of the handlers' context (a policy, ``key_links=None`` …)."""
    parts: dict[str, Any] = {"callback_links": link_maker(SECRET, BASE),
                             "key_sealer": FakeSealer(), "key_links": key_links,
                             "session_secret": SECRET, "rules": packaged_rules, **ctx}
    return build_bus(HandlerContext(uow=lambda: FakeUnitOfWork(store), clock=clock, **parts))
