"""Read models the entry layers (console, consumers, schedulers) may use: the only part of
``workflow.adapters`` they import. Everything here reads; changes go through the message bus or
a unit of work's stores. ``Database`` is the read handle these functions take."""

from workflow.adapters.db import Database
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

__all__ = ["SORTS", "Database", "Requester", "TicketSummary", "dumps", "list_tickets",
           "requester_of", "sla_of", "ticket_details"]
