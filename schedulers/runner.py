"""The scheduler process: an SLA tick every few seconds and a daily purge, done by one leader.

Run it on as many hosts as you like; each one ticks, and each tick begins with the leader check
(``is_held``, or ``acquire`` for a follower), so a follower takes over within one interval of
the leader's death. APScheduler 3.x is used only as a timer: the memory job store (several
schedulers sharing a persistent job store fire jobs twice, and the SQLAlchemy store silently
deletes jobs it cannot unpickle), ``max_instances=1``, ``coalesce=True`` and no misfire grace
limit (the default of 1 s would silently skip a late run). What is due lives in the tickets.

The process is ``resetdesk scheduler`` (``resetdesk up`` runs one in the background): both take
their configuration from the settings, through the composition root's ``scheduler_config``, and
call ``run_scheduler`` / ``start_in_background``.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from schedulers.housekeeping import LeaderJob
from schedulers.jobs import SCHEDULER, CalendarWatch, daily_purge, sla_tick
from schedulers.leader import LeaderLock, leader_lock_for
from telemetry import metrics
from workflow.adapters import scheduler_wiring as wiring
from workflow.adapters.queries import Database
from workflow.domain.errors import StorageUnavailable
from workflow.domain.ticket_sla import SlaBook
from workflow.service.handlers import UowFactory
from workflow.service.ops_handlers import RecordJobRun
from workflow.service.ports import Clock, SystemClock

log = logging.getLogger(__name__)

#: every job: one run at a time, missed runs merged into one, and a late run still runs
JOB_DEFAULTS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}


@dataclass(frozen=True)
class SchedulerConfig:
    db_url: str
    calendar_path: Path | None = None
    interval_seconds: float = 5.0
    purge_hour_local: int = 3
    retention: timedelta = timedelta(days=90)
    attachment_retention: timedelta = timedelta(days=30)
    name: str = "resetdesk-scheduler"
    #: tickets per SLA transaction; a tick runs rounds until one is short
    limit: int = 100
    #: policy overrides (tests and ops); None keeps the documented defaults
    first_reply_seconds: float | None = None
    resolution_seconds: float | None = None
    at_risk_ratio: float | None = None
    #: a new leader re-applies the calendar to every open ticket (it cannot know whether the
    #: previous leader finished after a calendar edit) and runs the purge once
    catch_up_on_leadership: bool = True
    #: more periodic jobs run by the leader only: (name, every N seconds, its command)
    extra_jobs: tuple[LeaderJob, ...] = ()
    #: the composition root's bus, built over the scheduler's database, its unit-of-work factory
    #: (the calendar in force) and clock; None: a bare bus (documented policies, no secret key)
    bus: wiring.BusFactory | None = None

    def book(self) -> SlaBook:
        def hours(seconds: float | None) -> float | None:
            return None if seconds is None else seconds / 3600
        return wiring.sla_book(self.calendar_path,
                               first_reply_hours=hours(self.first_reply_seconds),
                               resolution_hours=hours(self.resolution_seconds),
                               at_risk_ratio=self.at_risk_ratio)


class Scheduler:
    """One scheduler process's timer, lock and jobs; ``start`` returns, ``stop`` waits."""

    def __init__(self, config: SchedulerConfig, *, clock: Clock | None = None,
                 db: Database | None = None, lock: LeaderLock | None = None) -> None:
        if config.interval_seconds <= 0 or config.limit < 1:
            raise ValueError("interval_seconds and limit must be positive")
        self.config = config
        self.clock = clock or SystemClock()
        self._own_db = db is None
        self.db = db or wiring.open_database(config.db_url)
        self.lock = lock or leader_lock_for(config.db_url, config.name)
        self.watch = CalendarWatch(config.calendar_path, self._uow_factory)  # a bad file fails here
        self.bus = (config.bus or wiring.scheduler_bus)(self.db, lambda: self.watch.uow_factory(),
                                                        self.clock)
        self._stopping = threading.Event()
        self._lead_mutex = threading.Lock()
        self._leading = False
        self._timer = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=2)},
            job_defaults=JOB_DEFAULTS, timezone=UTC)
        self._timer.add_job(self._sla_job, IntervalTrigger(seconds=config.interval_seconds),
                            id="sla-tick", next_run_time=datetime.now(UTC), **JOB_DEFAULTS)
        for job in config.extra_jobs:
            self._timer.add_job(self._extra_job, IntervalTrigger(seconds=job.every_seconds),
                                args=[job], id=job.name, **JOB_DEFAULTS)
        self._timer.add_job(self._purge_job, CronTrigger(hour=config.purge_hour_local,
                                                         timezone=self.book.calendar.zone),
                            id="daily-purge", **JOB_DEFAULTS)

    @property
    def is_leader(self) -> bool:
        return self._leading

    def _uow_factory(self) -> UowFactory:
        """A factory bound to the calendar file as it is now (CalendarWatch calls it on edits)."""
        self.book = book = self.config.book()
        db = self.db
        return wiring.uow_factory(db, book)

    def start(self) -> None:
        log.info("scheduler %s starting (pid %d, every %gs, database %s)", self.config.name,
                 os.getpid(), self.config.interval_seconds, self.db.writer.url.render_as_string())
        self._timer.start()

    def stop(self) -> None:
        """Stop ticking, wait for a running job (a catch-up stops between rounds), release."""
        self._stopping.set()
        if self._timer.running:
            self._timer.shutdown(wait=True)
        with self._lead_mutex:
            if self._leading:
                log.info("leadership released (pid %d)", os.getpid())
            self._leading = False
            self.lock.release()
            metrics.SCHEDULER_LEADER.set(0)
        if self._own_db:
            self.db.dispose()
        log.info("scheduler %s stopped (pid %d)", self.config.name, os.getpid())

    def _lead(self) -> bool:
        """True if this process leads now: checks a held lock, or tries to take it."""
        with self._lead_mutex:
            if self._stopping.is_set():
                return False
            if self._leading:
                if self.lock.is_held():
                    return True
                self._leading = False
                log.info("lost leadership (pid %d)", os.getpid())
            if not self.lock.acquire():
                return False
            self._leading = True
            log.info("became leader (pid %d)", os.getpid())
            if self.config.catch_up_on_leadership:
                self.watch.mark_stale()
                self._timer.add_job(self._purge_job, id="purge-catch-up", replace_existing=True,
                                    **JOB_DEFAULTS)
            return True

    def _keep_going(self) -> bool:
        return not self._stopping.is_set() and self.lock.is_held()

    def _sla_job(self) -> None:
        with _logged("sla tick"):
            leading = self._lead()
            metrics.SCHEDULER_LEADER.set(1 if leading else 0)
            if leading:
                started, t0 = self.clock.now(), time.perf_counter()
                self.watch.refresh()
                raised = sla_tick(self.bus, limit=self.config.limit, keep_going=self._keep_going)
                seconds = time.perf_counter() - t0
                metrics.SCHEDULER_SCAN_SECONDS.observe(seconds)
                metrics.SCHEDULER_LAST_SCAN.set_to_current_time()
                if self.bus.handles(RecordJobRun):  # the ops pages' "last run" and lag
                    self.bus.handle(RecordJobRun(actor=SCHEDULER, job="sla-tick", at=started,
                                                 seconds=seconds,
                                                 detail=f"{raised} alarm(s) raised"))

    def _extra_job(self, job: LeaderJob) -> None:
        with _logged(job.name):
            if self._lead():
                self.bus.handle(job.command())

    def _purge_job(self) -> None:
        with _logged("purge"):
            if self._lead():
                daily_purge(self.bus, retention=self.config.retention,
                            attachment_retention=self.config.attachment_retention)


@contextmanager
def _logged(what: str) -> Iterator[None]:
    """A job never dies of an error: log it, and the next run tries again."""
    try:
        yield
    except StorageUnavailable as exc:
        log.warning("%s: database unavailable, retrying next time: %s", what, exc)
    except Exception:
        log.exception("%s failed", what)


def start_in_background(*, db_url: str, calendar_path: Path | None = None,
                        interval_seconds: float = 5.0, purge_hour_local: int = 3,
                        retention: timedelta, attachment_retention: timedelta,
                        name: str = "resetdesk-scheduler", db: Database | None = None,
                        clock: Clock | None = None,
                        config: SchedulerConfig | None = None) -> Scheduler:
    """Embedded mode (``resetdesk up``): the scheduler in this process; call ``.stop()`` on exit.

    Pass the app's ``db`` to share its engines (it is then not disposed by ``stop``);
    ``config``, when given, overrides the other settings.
    """
    config = config or SchedulerConfig(db_url=db_url, calendar_path=calendar_path,
                             interval_seconds=interval_seconds, purge_hour_local=purge_hour_local,
                             retention=retention, attachment_retention=attachment_retention,
                             name=name)
    scheduler = Scheduler(config, clock=clock, db=db)
    scheduler.start()
    return scheduler


def run_scheduler(*, db_url: str, calendar_path: Path | None = None,
                  interval_seconds: float = 5.0, purge_hour_local: int = 3,
                  retention: timedelta, attachment_retention: timedelta,
                  stop_event: threading.Event | None = None, name: str = "resetdesk-scheduler",
                  config: SchedulerConfig | None = None, clock: Clock | None = None) -> None:
    """Run until ``stop_event`` is set or SIGTERM/SIGINT arrives (when called on the main
    thread); the lock is released on the way out. ``config``, when given, overrides the rest."""
    config = config or SchedulerConfig(
        db_url=db_url, calendar_path=calendar_path, interval_seconds=interval_seconds,
        purge_hour_local=purge_hour_local, retention=retention,
        attachment_retention=attachment_retention, name=name)
    stop = stop_event or threading.Event()
    scheduler = Scheduler(config, clock=clock)
    with _stop_on_signals(stop):
        scheduler.start()
        try:
            while not stop.wait(0.5):
                pass
        finally:
            scheduler.stop()


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

