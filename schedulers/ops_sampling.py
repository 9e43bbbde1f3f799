"""The ops history's periodic job: the leader samples every queue and the desk (the broker read
first, in production) so the ops pages keep sparklines and charts across restarts."""

from __future__ import annotations

from typing import Final

from schedulers.housekeeping import LeaderJob
from workflow.domain.actors import Actor
from workflow.service.ops_handlers import RecordOpsSample
from workflow.service.ops_ports import BrokerReader

OPS: Final = Actor.system("ops-sampler")


def ops_sample_job(every_seconds: float, broker: BrokerReader | None) -> LeaderJob:
    """``broker`` None: embedded mode (the queues are rows, read by the recorder itself)."""
    return LeaderJob("ops-sample", every_seconds,
                     lambda: RecordOpsSample(actor=OPS, broker=broker() if broker else None))
