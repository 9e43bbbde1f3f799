"""The message bus: every entry point decodes its input, builds a command and hands it here.

One handler per command type, one shape: ``handler(cmd, ctx) -> result``, where ``ctx`` carries
the unit-of-work factory, the clock and the policies and stores the handlers need. Before any
handler runs the bus asks the transitions declaration whether the command's actor may fire the
moves it names (``ActorRefused``), and refuses a dedicated move sent as a plain ``FireTrigger``
(``DedicatedMove``) — so no entry point keeps a list of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from workflow.domain.actors import authorize, authorize_kinds
from workflow.domain.callback_slots import CallbackPolicy
from workflow.domain.errors import WorkflowError
from workflow.domain.reset_keys import KeyLinks, KeyPolicy
from workflow.domain.rules import RuleBook
from workflow.domain.session_codes import SessionPolicy
from workflow.service.callback_ports import LinkMaker
from workflow.service.commands import Command, FireTrigger
from workflow.service.human_check import HumanCheckVerifier
from workflow.service.key_ports import Sealer
from workflow.service.ops_ports import OpsRecorder
from workflow.service.ports import AgentDirectory, Clock, UnitOfWork

R = TypeVar("R")
C = TypeVar("C", bound=Command[Any])
T = TypeVar("T")


class NotConfigured(WorkflowError):
    """The bus was built without what this command needs (a secret key, a public URL …)."""


#: (now, retention, attachment retention) -> what was purged, for the log
Purger = Callable[[datetime, timedelta, timedelta], str]
#: the customer's reset-key links, given the command's link base (used when no public URL is
#: configured); ``NotConfigured`` when there is neither
KeyLinkMaker = Callable[[str | None], KeyLinks]


@dataclass(frozen=True)
class HandlerContext:
    """What handlers may use; built once by the composition root. The stores are the unit of
    work's (``uow.callbacks``, ``uow.keys``, ``uow.sessions`` …); the rest is policy, the
    signers of the customer's links, and the few ports that are no store."""

    uow: Callable[[], UnitOfWork]
    clock: Clock
    #: a unit of work for look-ups only (on SQLite it does not take the write lock); None: ``uow``
    read_uow: Callable[[], UnitOfWork] | None = None
    #: the human check (captcha) intake settles and the verification worker asks again
    verifier: HumanCheckVerifier | None = None
    agents: AgentDirectory | None = None
    #: the verification rules, loaded when the first request is recorded
    rules: Callable[[], RuleBook] | None = None
    callback_policy: CallbackPolicy = field(default_factory=CallbackPolicy)
    #: signs the customer's callback links (None: the emails go out without links)
    callback_links: LinkMaker | None = None
    key_policy: KeyPolicy = field(default_factory=KeyPolicy)
    #: seals reset artifacts at rest (None: no usable secret key, keys cannot be sent)
    key_sealer: Sealer | None = None
    key_links: KeyLinkMaker | None = None
    session_secret: bytes = b""
    session_policy: SessionPolicy = field(default_factory=SessionPolicy)
    #: the retention purge the scheduler runs daily
    purge: Purger | None = None
    #: the ops pages' history (samples, job runs) the scheduler records
    ops: OpsRecorder | None = None

    def callback_link(self, ticket_id: str, action: str, expires_at: datetime) -> str | None:
        return self.callback_links(ticket_id, action, expires_at) if self.callback_links else None

    @staticmethod
    def need(value: T | None, what: str) -> T:
        if value is None:
            raise NotConfigured(f"{what} is not configured here")
        return value


Handler = Callable[[C, HandlerContext], R]


def check_actor(cmd: Command[Any]) -> None:
    """The declaration's verdict on ``cmd``'s actor; raises, or returns when it may run."""
    if cmd.actors:
        authorize_kinds(cmd.actor, type(cmd).__name__, cmd.actors)
    authorize(cmd.actor, cmd.fires(), generic=isinstance(cmd, FireTrigger))


class MessageBus:
    def __init__(self, ctx: HandlerContext) -> None:
        self.ctx = ctx
        self._handlers: dict[type[Command[Any]], Callable[[Any, HandlerContext], Any]] = {}

    def register(self, kind: type[C], handler: Callable[[C, HandlerContext], Any]) -> None:
        if kind in self._handlers:
            raise ValueError(f"{kind.__name__} has a handler already")
        self._handlers[kind] = handler

    def over(self, uow: Callable[[], UnitOfWork]) -> MessageBus:
        """The same handlers over another unit-of-work factory (group commit's shared
        transaction): the handlers keep their one shape."""
        bus = MessageBus(replace(self.ctx, uow=uow))
        bus._handlers = dict(self._handlers)
        return bus

    def handles(self, kind: type[Command[Any]]) -> bool:
        return kind in self._handlers

    def handle(self, cmd: Command[R]) -> R:
        handler = self._handlers.get(type(cmd))
        if handler is None:
            raise NotConfigured(f"no handler for {type(cmd).__name__}")
        check_actor(cmd)
        return cast(R, handler(cmd, self.ctx))
