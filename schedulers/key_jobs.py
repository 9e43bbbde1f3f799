"""The silent-customer job: a reset key nobody answered gets a reminder, then the ticket closes
``abandoned`` ("no answer after key sent").

Deadlines are computed from the artifact rows (sent at, reminded at) and the calendar in force,
never kept as timers, so a scheduler that was down catches up on its next run. The scan is a read;
only an artifact whose step has come gets a write transaction, which re-reads it (an answer that
came meanwhile wins) and notes the reminder with a conditional update (sent once).
"""

from __future__ import annotations

import logging

from workflow.domain.errors import ConcurrencyConflict
from workflow.domain.reset_keys import KeyLinks, SilencePolicy
from workflow.service.handlers import UowFactory
from workflow.service.ports import Clock
from workflow.service.reset_keys import awaiting_answer, keys_of, silent_step

log = logging.getLogger(__name__)


def remind_and_close_silent(uow_factory: UowFactory, clock: Clock, *,
                            remind_after_business_days: int = 2,
                            close_after_business_days: int = 5,
                            links: KeyLinks | None = None,
                            limit: int = 200) -> tuple[int, int]:
    """Remind or close every silent customer whose time has come; returns (reminded, closed).

    ``links`` (``artifact_store.key_links(secret, base_url)``) puts fresh confirm/report links
    in the reminder; without it the reminder points to the first email's links.
    """
    silence = SilencePolicy(remind_after_business_days, close_after_business_days)
    calendar = uow_factory().sla.calendar
    reminded = closed = 0
    after = 0
    while True:
        batch = awaiting_answer(uow_factory(), keys_of, after, limit)
        now = clock.now()
        for art in batch:
            if silence.next_step(calendar, art.created_at, art.reminder_sent_at, now) is None:
                continue
            try:
                done = silent_step(uow_factory(), clock, keys_of, silence, art.id,
                                   art.ticket_id, links)
            except ConcurrencyConflict:
                continue  # someone acted on the ticket meanwhile: looked at again next run
            reminded += done == "remind"
            closed += done == "close"
        if len(batch) < limit:
            break
        after = batch[-1].id
    if reminded or closed:
        log.info("reset keys: %d reminder(s) sent, %d ticket(s) closed silent", reminded, closed)
    return reminded, closed
