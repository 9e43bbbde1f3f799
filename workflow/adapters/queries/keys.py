"""A ticket's reset key as the customer's pages show it (read only)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from workflow.domain.reset_keys import TEXT_KINDS
from workflow.service.callbacks import customer_zone
from workflow.service.key_ports import Sealer
from workflow.service.ports import UnitOfWork
from workflow.service.reset_keys import pending, seal_context


@dataclass(frozen=True)
class KeyView:
    """What a customer page shows; ``content`` only when the artifact was asked for."""

    reference: str
    language: str
    waiting: bool
    #: what became of the latest artifact (None while pending or when none was sent)
    outcome: str | None = None
    kind: str | None = None
    valid_until: datetime | None = None
    text: str | None = None
    content: bytes | None = None
    filename: str | None = None
    media_type: str | None = None
    #: the IANA zone the request named, for the times the page shows
    time_zone: str | None = None


def key_view(uow: UnitOfWork, now: datetime, ticket_id: str, *,
             sealer: Sealer | None = None) -> KeyView:
    """With ``sealer``, also the artifact in clear — only while it is pending, still valid, not
    purged and readable (without it, the page asks the customer to report it)."""
    with uow:
        ticket = uow.tickets.get(ticket_id)
        art = uow.keys.latest(ticket.id)
        if art is None or not pending(ticket, art):
            return KeyView(ticket.reference, ticket.language, False, art.outcome if art else None)
        view = KeyView(ticket.reference, ticket.language, True, None, art.kind, art.valid_until,
                       time_zone=customer_zone(ticket))
        sealed = uow.keys.ciphertext(art.id) if sealer is not None else None
        if sealer is None or sealed is None or now >= art.valid_until:
            return view
        try:
            plain = sealer.open(sealed, seal_context(ticket.id, art.kind))
        except ValueError:  # sealed under a secret key since changed: the customer reports it
            return view
    if art.kind in TEXT_KINDS:
        return replace(view, text=plain.decode())
    return replace(view, content=plain, filename=art.filename, media_type=art.media_type)
