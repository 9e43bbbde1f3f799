"""The message bus over the SQL stores: what the composition root (and a test's web app) builds
once and hands to every entry point; and the few SQL or crypto parts an entry point is handed
besides (rate limits, the sealer of reset keys)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from workflow.adapters import artifact_store
from workflow.adapters.accounts import SqlAgentDirectory
from workflow.adapters.db import Database
from workflow.adapters.throttle_store import sql_throttle
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.callback_slots import CallbackPolicy
from workflow.domain.rules import RuleBook
from workflow.domain.session_codes import SessionPolicy
from workflow.service.bus import HandlerContext, MessageBus, NotConfigured
from workflow.service.callback_desk import callbacks_of, link_maker
from workflow.service.command_handlers import build_bus
from workflow.service.human_check import HumanCheckVerifier
from workflow.service.ports import Clock, UnitOfWork
from workflow.service.reset_keys import KeyDesk, Sealer, keys_of
from workflow.service.session_ports import sessions_of


def sql_bus(db: Database, uow: Callable[[], UnitOfWork], clock: Clock, *, secret_key: bytes,
            public_url: str | None, options: Mapping[str, Any],
            rules: Callable[[], RuleBook] | None = None,
            verifier: HumanCheckVerifier | None = None) -> MessageBus:
    """``public_url`` is where customer links point; a key sent without one uses the command's
    ``link_base`` (the address the agent's request came to, or the CLI's server address)."""

    def keys(link_base: str | None) -> KeyDesk:
        base = public_url or link_base
        if not base:
            raise NotConfigured("reset keys need a public URL for the customer's links")
        try:
            return artifact_store.key_desk(secret_key, base, options)
        except ValueError as err:
            raise NotConfigured(f"reset keys are not configured: {err}") from None

    return build_bus(HandlerContext(
        uow=uow, clock=clock, read_uow=lambda: SqlUnitOfWork(db, read_only=True),
        agents=SqlAgentDirectory(db), rules=rules, verifier=verifier,
        callback_store=callbacks_of,
        callback_policy=CallbackPolicy.from_options(options),
        callback_links=link_maker(secret_key, public_url),
        keys=keys, key_store=keys_of,
        session_store=sessions_of, session_secret=secret_key,
        session_policy=SessionPolicy.from_options(options)))


__all__ = ["sealer", "sql_bus", "sql_throttle"]


def sealer(secret_key: bytes) -> Sealer:
    """The AES-GCM sealer of reset keys (``ValueError`` for a key shorter than 16 bytes)."""
    return artifact_store.AesGcmSealer(secret_key)
