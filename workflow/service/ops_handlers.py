"""The ops history's commands and handlers: the scheduler's leader records a sample of every
queue and of the desk every few seconds, and each run of its SLA scan, so the ops pages show
history that survives a restart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from workflow.service.bus import HandlerContext, MessageBus
from workflow.service.commands import Command
from workflow.service.ops_ports import BrokerReport

SYSTEM = ("system",)
#: how long samples and roll-ups are kept (the pages show 7 days)
KEEP = timedelta(days=8)


@dataclass(frozen=True, kw_only=True)
class RecordOpsSample(Command[int]):
    """A sample of every series now; ``broker``: the broker's queues as read just before
    (None in embedded mode). How many rows were written."""

    actors = SYSTEM
    broker: BrokerReport | None = None
    keep: timedelta = KEEP


@dataclass(frozen=True, kw_only=True)
class RecordJobRun(Command[None]):
    """A periodic job (``sla-tick`` …) ran at ``at`` for ``seconds``."""

    actors = SYSTEM
    job: str
    at: datetime
    seconds: float
    detail: str | None = None


def record_ops_sample(cmd: RecordOpsSample, ctx: HandlerContext) -> int:
    recorder = ctx.need(ctx.ops, "the ops history")
    return recorder.record_sample(ctx.clock.now(), cmd.broker, cmd.keep)


def record_job_run(cmd: RecordJobRun, ctx: HandlerContext) -> None:
    recorder = ctx.need(ctx.ops, "the ops history")
    recorder.record_job(cmd.job, cmd.at, cmd.seconds, cmd.detail)


def register(bus: MessageBus) -> None:
    bus.register(RecordOpsSample, record_ops_sample)
    bus.register(RecordJobRun, record_job_run)
