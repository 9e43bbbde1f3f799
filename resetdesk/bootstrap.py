"""The composition root: the only place that builds and wires every part.

It builds on demand: each part imports its modules when first asked for, so a command takes
only what it uses (``tickets list`` opens the database and reads; it never loads the bus, the
transports, the web side or the scheduler)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consumers.amqp.main import ConsumerConfig
    from consumers.embedded import EmbeddedRuntime, Subscriber
    from consumers.request_handling import RequestHandler
    from resetdesk.settings import Settings
    from schedulers.housekeeping import LeaderJob
    from schedulers.runner import SchedulerConfig
    from workflow.adapters.batch_uow import BatchScope
    from workflow.adapters.db import Database
    from workflow.adapters.human_check import HumanCheckVerifier
    from workflow.adapters.unit_of_work import SqlUnitOfWork
    from workflow.domain.policies import Policies
    from workflow.domain.retry import RetryPolicy
    from workflow.domain.rules import RuleBook
    from workflow.domain.ticket_sla import SlaBook
    from workflow.service.bus import MessageBus
    from workflow.service.ops_ports import BrokerReader
    from workflow.service.ports import Clock, UnitOfWork


def _system_clock() -> Clock:
    from workflow.service.ports import SystemClock

    return SystemClock()


@dataclass
class App:
    settings: Settings
    clock: Clock = field(default_factory=_system_clock)

    @cached_property
    def db(self) -> Database:
        from workflow.adapters.db import open_database

        return open_database(self.settings.resolved_database_url())

    def uow(self, *, read_only: bool = False) -> SqlUnitOfWork:
        from workflow.adapters.unit_of_work import SqlUnitOfWork

        return SqlUnitOfWork(self.db, read_only=read_only, sla=self.sla_book)

    @cached_property
    def policies(self) -> Policies:
        """Callbacks, keys, sessions and rate limits, typed, from their settings groups."""
        from resetdesk import policies as policy_of

        return policy_of.policies(self.settings)

    @cached_property
    def retry(self) -> RetryPolicy:
        """One retry policy for the embedded workers and the AMQP consumers."""
        from resetdesk import policies as policy_of

        return policy_of.retry_policy(self.settings.queue.retry)

    @cached_property
    def sla_book(self) -> SlaBook:
        from workflow.adapters.sla_book import build_book

        sla = self.settings.sla
        return build_book(sla.calendar_path, first_reply_hours=sla.first_reply_hours,
                          resolution_hours=sla.resolution_hours, at_risk_ratio=sla.at_risk_ratio)

    @cached_property
    def rules(self) -> RuleBook:
        from workflow.adapters.rules_file import load_rule_book

        v = self.settings.verification
        return load_rule_book(v.model_rules_path, v.regional_offices_path)

    @cached_property
    def verifier(self) -> HumanCheckVerifier:
        from workflow.adapters.human_check import LocalVerifier, SiteverifyVerifier

        v = self.settings.verification
        if v.human_check == "local":
            return LocalVerifier()
        if not (v.siteverify_url and v.siteverify_secret):  # the settings refuse this on load
            raise ValueError("human_check=siteverify needs a siteverify URL and secret")
        return SiteverifyVerifier(v.siteverify_url, v.siteverify_secret,
                                  v.siteverify_timeout_seconds)

    @cached_property
    def request_handler(self) -> RequestHandler:
        from consumers.request_handling import RequestHandler

        return RequestHandler(db=self.db, uow=self.uow, clock=self.clock, rules=self.rules,
                              verifier=self.verifier, retry=self.retry, bus=self.bus)

    @cached_property
    def bus(self) -> MessageBus:
        """The one message bus of this process; every entry point hands its commands here."""
        return self.bus_over(self.db, self.uow, self.clock)

    def bus_over(self, db: Database, uow: Callable[[], UnitOfWork], clock: Clock) -> MessageBus:
        """This process's bus wiring over a given database, unit-of-work factory and clock (the
        scheduler's, whose units of work follow the calendar in force). Customer links need the
        secret key: the configured one, or the one ``up`` keeps in the data directory (never
        created from here); without one, emails go out without links."""
        from workflow.adapters.bus_wiring import sql_bus

        return sql_bus(db, uow, clock, secret_key=self._link_key(),
                       public_url=self.settings.server.public_url, policies=self.policies,
                       rules=lambda: self.rules, verifier=self._intake_verifier())

    def _intake_verifier(self) -> HumanCheckVerifier | None:
        """The verifier for the bus's intake handlers; None when misconfigured, so that only
        what takes requests fails (serve and consume build ``verifier`` themselves and say why),
        not every command that builds the bus."""
        try:
            return self.verifier
        except ValueError:
            return None

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

    def subscribers(self) -> list[Subscriber]:
        from consumers.escalation import EscalationHandler
        from resetdesk.wiring import notification_subscriber

        return [notification_subscriber(self.settings, self.db), EscalationHandler(self.bus)]

    def consumer_config(self) -> ConsumerConfig:
        from consumers.amqp.main import ConsumerConfig

        s = self.settings
        return ConsumerConfig(broker_url=s.broker_url, prefetch=s.amqp.prefetch,
                              heartbeat=s.amqp.heartbeat, workers=s.amqp.workers,
                              system_user=s.amqp.system_user, retry=self.retry,
                              batch_size=s.amqp.batch_size,
                              batch_window=s.amqp.batch_window_ms / 1000)

    def batch_transactions(self) -> BatchScope:
        """Group commit's shared transactions (``RESETDESK_AMQP__BATCH_SIZE`` > 1)."""
        from workflow.adapters.batch_uow import BatchScope

        return BatchScope(self.uow)

    def leader_jobs(self) -> tuple[LeaderJob, ...]:
        """Periodic jobs beside the SLA scan, run by the scheduler's leader only: commands its
        bus (``bus_over``) carries. Reminders' key links point at the public URL, else here."""
        from schedulers.housekeeping import housekeeping_jobs
        from schedulers.ops_sampling import ops_sample_job

        s, keys = self.settings, self.policies.keys
        return (*housekeeping_jobs(silence=keys.silence,
                                   link_base=f"http://{s.server.host}:{s.server.port}"),
                ops_sample_job(s.scheduler.ops_sample_seconds, self.broker_reader()))

    def broker_reader(self) -> BrokerReader | None:
        """The broker's queue figures for the ops pages (None in embedded mode)."""
        s = self.settings
        if s.embedded or not s.broker_url:
            return None
        from consumers.amqp.queue_stats import broker_report

        url, management = s.broker_url, s.amqp.management_url
        return lambda: broker_report(url, management)

    def embedded_runtime(self, *, idle_seconds: float = 0.5) -> EmbeddedRuntime:
        from consumers.embedded import EmbeddedRuntime

        q = self.settings.queue
        return EmbeddedRuntime(db=self.db, clock=self.clock, handler=self.request_handler,
                               subscribers=self.subscribers(), workers=q.workers,
                               lease_seconds=q.lease_seconds, retry=self.retry,
                               idle_seconds=idle_seconds)

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
        from schedulers.runner import SchedulerConfig

        s = self.settings
        return SchedulerConfig(
            db_url=s.resolved_database_url(), calendar_path=s.sla.calendar_path,
            interval_seconds=s.scheduler.interval_seconds,
            purge_hour_local=s.scheduler.purge_hour, name=s.scheduler.lock_name,
            retention=timedelta(days=s.retention.days),
            attachment_retention=timedelta(days=s.retention.attachment_days),
            first_reply_seconds=s.sla.first_reply_hours * 3600,
            resolution_seconds=s.sla.resolution_hours * 3600, at_risk_ratio=s.sla.at_risk_ratio,
            extra_jobs=self.leader_jobs(), bus=self.bus_over)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


def bootstrap(settings: Settings | None = None, clock: Clock | None = None) -> App:
    from resetdesk.settings import load_settings

    app = App(settings or load_settings())
    if clock is not None:
        app.clock = clock
    return app
