"""Read models the entry layers (console, consumers, schedulers) may use: the only part of
``workflow.adapters`` they import. Everything here reads; changes go through the message bus or
a unit of work's stores. ``Database`` is the read handle these functions take."""

from workflow.adapters.db import Database
from workflow.adapters.queries.presence import Present, presence_for
from workflow.adapters.queries.queue import (
    Countdown,
    QueueFilters,
    QueuePage,
    QueueRow,
    count_matching,
    escalating_soon,
    queue_page,
)
from workflow.adapters.queries.queue_filters import SLA_STATUSES
from workflow.adapters.queries.tickets import (
    SORTS,
    Requester,
    TicketSummary,
    dumps,
    list_tickets,
    requester_of,
    sla_of,
    ticket_details,
)

__all__ = ["SLA_STATUSES", "SORTS", "Countdown", "Database", "Present", "QueueFilters",
           "QueuePage", "QueueRow", "Requester", "TicketSummary", "count_matching", "dumps",
           "escalating_soon", "list_tickets", "presence_for", "queue_page", "requester_of",
           "sla_of", "ticket_details"]
