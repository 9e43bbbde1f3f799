"""Read models the entry layers (console, consumers, schedulers) may use: the only part of
``workflow.adapters`` they import. Everything here reads; changes go through the message bus or
a unit of work's stores. ``Database`` is the read handle these functions take.

Each name is imported from its module on first use (PEP 562), so a caller that lists tickets
does not pay for the queue, presence or service modules it never touches."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "workflow.adapters.db": ("Database",),
    "workflow.adapters.queries.presence": ("Present", "presence_for"),
    "workflow.adapters.queries.queue": ("Countdown", "QueueFilters", "QueuePage", "QueueRow",
                                        "count_matching", "escalating_soon", "queue_page"),
    "workflow.adapters.queries.queue_filters": ("SLA_STATUSES",),
    "workflow.adapters.queries.tickets": ("SORTS", "Requester", "TicketSummary", "dumps",
                                          "list_tickets", "requester_of", "sla_of",
                                          "ticket_details"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = ["SLA_STATUSES", "SORTS", "Countdown", "Database", "Present", "QueueFilters",
           "QueuePage", "QueueRow", "Requester", "TicketSummary", "count_matching", "dumps",
           "escalating_soon", "list_tickets", "presence_for", "queue_page", "requester_of",
           "sla_of", "ticket_details"]


def __getattr__(name: str) -> Any:
    home = _HOME_OF.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
