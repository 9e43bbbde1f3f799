"""The composition root: the only place that builds and wires every part."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from consumers.embedded import EmbeddedRuntime, Subscriber
from consumers.request_handling import RequestHandler
from resetdesk.settings import Settings
from resetdesk.wiring import notification_subscriber
from schedulers.runner import LeaderJob, SchedulerConfig
from workflow.adapters.db import Database, open_database
from workflow.adapters.human_check import HumanCheckVerifier, LocalVerifier, SiteverifyVerifier
from workflow.adapters.rules_file import load_rule_book
from workflow.adapters.sla_book import build_book
from workflow.adapters.unit_of_work import SqlUnitOfWork
from workflow.domain.rules import RuleBook
from workflow.domain.ticket_sla import SlaBook
from workflow.service.bus import MessageBus
from workflow.service.callbacks import CallbackDesk
from workflow.service.ports import Clock, SystemClock, UnitOfWork


@dataclass
class App:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def db(self) -> Database:
        return open_database(self.settings.resolved_database_url())

    def uow(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db, read_only=read_only, sla=self.sla_book)

    @cached_property
    def sla_book(self) -> SlaBook:
        s = self.settings
        return build_book(s.calendar_path, first_reply_hours=s.first_reply_hours,
                          resolution_hours=s.resolution_hours, at_risk_ratio=s.at_risk_ratio)

    @cached_property
    def rules(self) -> RuleBook:
        return load_rule_book(self.settings.model_rules_path, self.settings.regional_offices_path)

    @cached_property
    def verifier(self) -> HumanCheckVerifier:
        s = self.settings
        if s.human_check == "local":
            return LocalVerifier()
        if s.human_check == "siteverify":
            if not (s.siteverify_url and s.siteverify_secret):
                raise ValueError("human_check=siteverify needs RESETDESK_SITEVERIFY_URL and "
                                 "RESETDESK_SITEVERIFY_SECRET")
            return SiteverifyVerifier(s.siteverify_url, s.siteverify_secret,
                                      s.siteverify_timeout_seconds)
        raise ValueError(f"unknown human_check {s.human_check!r}: use local or siteverify")

    @cached_property
    def request_handler(self) -> RequestHandler:
        s = self.settings
        return RequestHandler(db=self.db, uow=self.uow, clock=self.clock, rules=self.rules,
                              verifier=self.verifier, max_attempts=s.max_attempts,
                              retry_delays=s.retry_delays_seconds,
                              bus=self.bus)

    @cached_property
    def bus(self) -> MessageBus:
        """The one message bus of this process; every entry point hands its commands here.
        Customer links need the secret key: the configured one, or the one ``up`` keeps in
        the data directory (never created from here)."""
        from workflow.adapters.bus_wiring import sql_bus

        return sql_bus(self.db, self.uow, self.clock, secret_key=self._link_key(),
                       public_url=self.settings.public_url, options=self.options,
                       rules=lambda: self.rules, verifier=self._intake_verifier())

    def _intake_verifier(self) -> HumanCheckVerifier | None:
        """The verifier for the bus's intake handlers; None when misconfigured, so that only
        what takes requests fails (serve and consume build ``verifier`` themselves and say why),
        not every command that builds the bus."""
        try:
            return self.verifier
        except ValueError:
            return None

    def callback_desk(self) -> CallbackDesk:
        """The desk from the settings (``callback_*``); emails carry links only when a public
        URL and a secret key are configured."""
        from workflow.adapters.callback_store import link_maker, sql_store
        from workflow.domain.callback_slots import CallbackPolicy

        return CallbackDesk(self.uow, self.clock, sql_store,
                            CallbackPolicy.from_options(self.options),
                            link_maker(self._link_key(), self.settings.public_url))

    def _link_key(self) -> bytes:
        """The configured key, or the one ``up`` keeps in the data directory (never created
        from here); empty when there is none, and customer links are then left out."""
        s = self.settings
        if not s.secret_key and not self._file_key and (s.data_dir / "secret.key").exists():
            self.ensure_secret_key(s.data_dir)
        try:
            return self.secret_key
        except ValueError:
            return b""

    @property
    def options(self) -> dict[str, Any]:
        """Settings by name, for the modules that read their own (callbacks, keys, sessions)."""
        return self.settings.model_dump()

    def subscribers(self) -> list[Subscriber]:
        from consumers.escalation import EscalationHandler
        from workflow.domain.callback_slots import CallbackPolicy

        escalation = EscalationHandler(self.uow, self.clock,
                                       policy=CallbackPolicy.from_options(self.options),
                                       secret_key=self.secret_key,
                                       public_url=self.settings.public_url, bus=self.bus)
        return [notification_subscriber(self.settings, self.db), escalation]

    def leader_jobs(self) -> tuple[LeaderJob, ...]:
        """Periodic jobs beside the SLA scan, run by the scheduler's leader only."""
        from schedulers.key_jobs import remind_and_close_silent
        from schedulers.session_jobs import expire_idle_sessions, prune_code_throttle
        from workflow.adapters.artifact_store import key_links

        s = self.settings
        links = key_links(self.secret_key, s.public_url or f"http://{s.host}:{s.port}",
                          self.options)
        idle = timedelta(minutes=s.session_idle_minutes)
        return (LeaderJob("remote-session-idle", 15,
                          lambda uow, clock: expire_idle_sessions(uow, clock, idle)),
                LeaderJob("code-throttle-prune", 3600, prune_code_throttle),
                LeaderJob("reset-key-silence", 60, lambda uow, clock: remind_and_close_silent(
            uow, clock, remind_after_business_days=s.key_remind_after_business_days,
            close_after_business_days=s.key_close_after_business_days, links=links)),
            LeaderJob("callback-orphans", 300, lambda uow, clock: _release_orphans(self, uow)))

    def embedded_runtime(self, *, idle_seconds: float = 0.5) -> EmbeddedRuntime:
        s = self.settings
        return EmbeddedRuntime(db=self.db, clock=self.clock, handler=self.request_handler,
                               subscribers=self.subscribers(), workers=s.workers,
                               lease_seconds=s.lease_seconds, max_attempts=s.max_attempts,
                               retry_delays=s.retry_delays_seconds, idle_seconds=idle_seconds)

    @property
    def secret_key(self) -> bytes:
        key = self.settings.secret_key or self._file_key
        if not key:
            raise ValueError("no secret key: set RESETDESK_SECRET_KEY (32+ random characters)")
        return key.encode()

    _file_key: str | None = None

    def ensure_secret_key(self, data_dir: Path) -> None:
        """Embedded mode: a random key kept in data_dir/secret.key (created once, mode 0600)."""
        if self.settings.secret_key:
            return
        path = data_dir / "secret.key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48) + "\n", encoding="utf-8")
            path.chmod(0o600)
        self._file_key = path.read_text(encoding="utf-8").strip()

    def scheduler_config(self) -> SchedulerConfig:
        s = self.settings
        return SchedulerConfig(
            db_url=s.resolved_database_url(), calendar_path=s.calendar_path,
            interval_seconds=s.scheduler_interval_seconds,
            retention=timedelta(days=s.retention_days),
            attachment_retention=timedelta(days=s.attachment_retention_days),
            first_reply_seconds=s.first_reply_hours * 3600,
            resolution_seconds=s.resolution_hours * 3600, at_risk_ratio=s.at_risk_ratio,
            extra_jobs=self.leader_jobs())

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


def _release_orphans(app: App, uow_factory: Callable[[], UnitOfWork]) -> int:
    from workflow.service.callbacks import release_orphans

    return release_orphans(app.callback_desk())


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> App:
    app = App(settings or Settings())
    if clock is not None:
        app.clock = clock
    return app
