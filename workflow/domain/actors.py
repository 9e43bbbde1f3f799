"""Who acts, and whether the transitions declaration lets them.

The declaration (``states.TRANSITIONS``, each move's ``actors``) is the only source of who may
fire what; the message bus asks :func:`authorize` before any handler runs, whatever the entry
point (CLI, HTTP, consumer, scheduler).
"""

from __future__ import annotations

from dataclasses import dataclass

from workflow.domain.errors import ActorRefused, DedicatedMove
from workflow.domain.states import ACTOR_KINDS, TRIGGERS, actors_of, command_of


@dataclass(frozen=True)
class Actor:
    """``kind`` is one of ``ACTOR_KINDS``; ``name`` the agent's login, the producer's name or
    the system process (``system:verification``); a customer is anonymous."""

    kind: str
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"unknown actor kind {self.kind!r}: one of {', '.join(ACTOR_KINDS)}")

    @property
    def label(self) -> str:
        """As the audit trail writes it: ``agent:alice``, ``customer``, ``system:escalation``."""
        return f"{self.kind}:{self.name}" if self.name else self.kind

    def __str__(self) -> str:
        return self.label

    @classmethod
    def parse(cls, label: str) -> Actor:
        kind, _, name = label.partition(":")
        return cls(kind, name)

    @classmethod
    def staff(cls, login: str, role: str = "agent") -> Actor:
        return cls("supervisor" if role == "supervisor" else "agent", login)

    @classmethod
    def producer(cls, name: str) -> Actor:
        """A registered producer, as its entry point authenticated it (bearer token, broker user)."""
        return cls("producer", name)

    @classmethod
    def system(cls, process: str) -> Actor:
        return cls("system", process)

    def matches(self, allowed: tuple[str, ...]) -> bool:
        """True when ``allowed`` names this actor's kind, or exactly ``kind:name``."""
        return self.kind in allowed or self.label in allowed


CUSTOMER = Actor("customer")


def may_fire(actor: Actor, trigger: str) -> bool:
    return trigger in TRIGGERS and actor.matches(actors_of(trigger))


def authorize(actor: Actor, triggers: tuple[str, ...], *, generic: bool = False) -> None:
    """Raise ``ActorRefused`` unless ``actor`` may fire every one of ``triggers``; with
    ``generic`` (the plain FireTrigger command), also ``DedicatedMove`` for a move that has its
    own command. Unknown triggers pass: the machine refuses them with the allowed list."""
    for trigger in triggers:
        if trigger not in TRIGGERS:
            continue
        if not may_fire(actor, trigger):
            raise ActorRefused(trigger, actor.label, actors_of(trigger))
        command = command_of(trigger, actor.kind)
        if generic and command is not None:
            raise DedicatedMove(trigger, command)


def authorize_kinds(actor: Actor, what: str, allowed: tuple[str, ...]) -> None:
    """For a command that fires no move (a note, a session step): its own list of actors."""
    if not actor.matches(allowed):
        raise ActorRefused(what, actor.label, allowed)
