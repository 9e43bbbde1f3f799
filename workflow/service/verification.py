"""The verification handler: one accepted request becomes one ticket, queued or closed, in one
transaction with its audit trail, outbox events and the inbox row marked done.

The same function runs under the embedded inbox workers and the AMQP consumers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.requests_v1 import RequestSubmittedV1
from workflow.domain.events import NotificationRequested
from workflow.domain.guards import TriggerContext
from workflow.domain.machine import fire
from workflow.domain.rules import RequestFacts, RuleBook, Verdict, verify
from workflow.domain.states import Outcome, State
from workflow.domain.ticket import AuditEntry, Ticket, new_ticket_id
from workflow.service.handlers import transition
from workflow.service.ports import Attachment, Clock, InboxEntry, OpenSerialTaken, UnitOfWork

ACTOR = "system:verification"


@dataclass(frozen=True)
class ProcessRequest:
    source: str
    event_id: str
    reference: str
    producer: str
    human_check_passed: bool
    request: RequestSubmittedV1
    #: when ResetDesk durably accepted the message (the SLA clocks start there)
    accepted_at: datetime | None = None
    #: record the inbox row in this same transaction (AMQP fast path); None: it exists already
    new_entry: InboxEntry | None = None


@dataclass(frozen=True)
class Processed:
    ticket_id: str
    reference: str
    state: str
    outcome: str | None
    applied: bool  # False: another worker had already processed this message; nothing changed


def facts_of(request: RequestSubmittedV1, human_check_passed: bool) -> RequestFacts:
    return RequestFacts(
        country=request.requester.country, language=request.requester.language,
        model=request.device.model_number, full_serial=request.device.serial_number,
        method=request.reset_method, device_kind=request.device.kind,
        authorised=request.attestation.authorised_and_responsible,
        on_site_or_network=request.attestation.on_site_or_network,
        human_check_passed=human_check_passed, firmware=request.device.firmware_version,
    )


def serial_key(full_serial: str) -> str:
    return "".join(full_serial.split()).upper()


def ticket_data(request: RequestSubmittedV1) -> dict[str, object]:
    """What the ticket keeps of the request: everything but the single-use human-check token and
    the export's bytes (stored as an attachment)."""
    data = request.model_dump(mode="json", exclude={"human_check_token"})
    if request.export is not None:
        data["export"] = {"kind": request.export.kind, "media_type": request.export.media_type,
                          "filename": request.export.filename}
    return data


def _new_ticket(cmd: ProcessRequest, clock: Clock, ticket_id: str) -> Ticket:
    now = clock.now()
    ticket = Ticket(
        id=ticket_id, reference=cmd.reference, state=State.SUBMITTED, created_at=now,
        updated_at=now, language=cmd.request.requester.language, source=cmd.source,
        event_id=cmd.event_id, serial_key=serial_key(cmd.request.device.serial_number),
        data=ticket_data(cmd.request), accepted_at=cmd.accepted_at or now,
    )
    ticket.pending_audit.append(AuditEntry(ticket.id, now, f"producer:{cmd.producer}", "submit",
                                           "", State.SUBMITTED.value))
    return ticket


def _notify(ticket: Ticket, template: str, verdict: Verdict | None = None,
            first_reply_due: datetime | None = None) -> None:
    context: dict[str, str | int | None] = {"reference": ticket.reference}
    if first_reply_due is not None:
        context["first_reply_due"] = first_reply_due.isoformat()
    if ticket.outcome:
        context["outcome"] = ticket.outcome.value
    if verdict is not None:
        context.update({f"next_{k}": v for k, v in verdict.next_step.items()})
    ticket.raise_event(NotificationRequested(ticket.id, ticket.updated_at, template,
                                             ticket.language, context))


def process_request(uow: UnitOfWork, clock: Clock, rules: RuleBook, cmd: ProcessRequest) -> Processed:
    """Verify, create and route the ticket; idempotent on (source, id)."""
    verdict = verify(facts_of(cmd.request, cmd.human_check_passed), rules)
    with uow:
        ticket_id = new_ticket_id()
        if cmd.new_entry is not None:
            # recorded and processed at once: the inbox key itself refuses a second copy
            uow.inbox.insert(cmd.source, cmd.event_id, cmd.reference, cmd.new_entry,
                             cmd.accepted_at or clock.now(), ticket_id=ticket_id)
        elif not uow.inbox.complete(cmd.source, cmd.event_id, ticket_id, cmd.reference,
                                    clock.now()):
            # claim the message first: only a pending inbox row may become a ticket, so a
            # second worker holding the same message changes nothing (the row lock orders them)
            uow.rollback()
            return Processed("", cmd.reference, "", None, applied=False)
        ticket = _new_ticket(cmd, clock, ticket_id)
        ctx = TriggerContext(ACTOR, ticket.created_at, reason=verdict.reason or None,
                             verdict_ok=verdict.ok,
                             outcome=Outcome(verdict.outcome) if verdict.outcome else None)
        if not verdict.ok:
            fire(ticket, "reject", ctx)
            _notify(ticket, "rejection", verdict)
            uow.tickets.add(ticket)
        else:
            fire(ticket, "verify", ctx)
            transition(uow, ticket, "enqueue", TriggerContext(ACTOR, ticket.created_at))
            due = ticket.sla.due("first_reply") if ticket.sla else None
            _notify(ticket, "acknowledgement", first_reply_due=due)
            try:
                uow.tickets.add(ticket)
            except OpenSerialTaken as taken:
                ticket = _new_ticket(cmd, clock, ticket_id)
                fire(ticket, "mark_duplicate", TriggerContext(
                    ACTOR, ticket.created_at, link=taken.open_ticket_id,
                    reason="another open request exists for this serial number"))
                _notify(ticket, "duplicate")  # not the open one's reference: maybe not theirs
                uow.tickets.add(ticket)
        if cmd.request.export is not None and ticket.outcome is not Outcome.DUPLICATE:
            export = cmd.request.export
            uow.attachments.add(ticket.id, Attachment(export.kind, export.media_type,
                                                      export.filename, export.content()),
                                ticket.created_at)
        uow.commit()
    return Processed(ticket.id, ticket.reference, ticket.state.value,
                     ticket.outcome.value if ticket.outcome else None, applied=True)
