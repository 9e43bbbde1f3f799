"""The message bus over the SQL stores: what the composition root (and a test's web app) builds
once and hands to every entry point; and the few SQL or crypto parts an entry point is handed
besides (rate limits, the sealer of reset keys)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache

from workflow.adapters import artifact_store
from workflow.adapters.accounts import SqlAgentDirectory
from workflow.adapters.db import Database
from workflow.adapters.ops_samples import SqlOpsRecorder
from workflow.adapters.purge import purge
from workflow.adapters.rules_file import load_rule_book
from workflow.adapters.throttle_store import sql_throttle
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.policies import Policies
from workflow.domain.reset_keys import KeyLinks
from workflow.domain.rules import RuleBook
from workflow.service.bus import HandlerContext, MessageBus, NotConfigured, Purger
from workflow.service.callback_ports import link_maker
from workflow.service.command_handlers import build_bus
from workflow.service.human_check import HumanCheckVerifier
from workflow.service.key_ports import Sealer
from workflow.service.ports import Clock, UnitOfWork


def sql_bus(db: Database, uow: Callable[[], UnitOfWork], clock: Clock, *, secret_key: bytes,
            public_url: str | None, policies: Policies,
            rules: Callable[[], RuleBook] | None = None,
            verifier: HumanCheckVerifier | None = None) -> MessageBus:
    """``public_url`` is where customer links point; a key sent without one uses the command's
    ``link_base`` (the address the agent's request came to, or the CLI's server address).
    ``rules`` default to the packaged data files (a staff rejection reads them too)."""

    def key_links(link_base: str | None) -> KeyLinks:
        base = public_url or link_base
        if not base:
            raise NotConfigured("reset keys need a public URL for the customer's links")
        if not secret_key:
            raise NotConfigured("reset keys need a secret key to sign the customer's links")
        return artifact_store.key_links(secret_key, base, policies.keys.link_lifetime)

    return build_bus(HandlerContext(
        uow=uow, clock=clock, read_uow=lambda: SqlUnitOfWork(db, read_only=True),
        agents=SqlAgentDirectory(db), rules=rules or packaged_rules, verifier=verifier,
        callback_policy=policies.callbacks,
        callback_links=link_maker(secret_key, public_url),
        key_policy=policies.keys, key_sealer=_sealer_or_none(secret_key),
        key_links=key_links,
        session_secret=secret_key, session_policy=policies.sessions,
        purge=purger(db), ops=SqlOpsRecorder(db, lambda: uow().sla)))


@cache
def packaged_rules() -> RuleBook:
    """The rule book from the data files shipped in the package, loaded once."""
    return load_rule_book()


__all__ = ["packaged_rules", "purger", "sealer", "sql_bus", "sql_throttle"]


def sealer(secret_key: bytes) -> Sealer:
    """The AES-GCM sealer of reset keys (``ValueError`` for a key shorter than 16 bytes)."""
    return artifact_store.AesGcmSealer(secret_key)


def _sealer_or_none(secret_key: bytes) -> Sealer | None:
    try:
        return sealer(secret_key)
    except ValueError:
        return None  # sending a key then says what is missing (NotConfigured)


def purger(db: Database) -> Purger:
    """Tickets, inbox rows and attachments past retention, then the reset artifacts."""

    def run(now: datetime, retention: timedelta, attachment_retention: timedelta) -> str:
        report = purge(db, now=now, retention=retention, attachment_retention=attachment_retention)
        artifacts = artifact_store.purge_artifacts(db, now, min(retention, attachment_retention))
        return f"{report}; reset artifacts purged: {artifacts}"

    return run
