"""The deployment's policies as one typed value: what the composition root builds from the
settings and hands to the bus and the web side (nothing reads settings by name)."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflow.domain.callback_slots import CallbackPolicy
from workflow.domain.reset_keys import KeyPolicy
from workflow.domain.session_codes import SessionPolicy
from workflow.domain.throttle import ThrottleLimits


@dataclass(frozen=True)
class Policies:
    callbacks: CallbackPolicy = field(default_factory=CallbackPolicy)
    keys: KeyPolicy = field(default_factory=KeyPolicy)
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    throttle: ThrottleLimits = field(default_factory=ThrottleLimits)
