"""``resetdesk tickets …``: list, show and act on tickets from a shell.

The moves import the commands (and through them the bus) when they run; ``list`` and ``show``
only read."""

from __future__ import annotations

from typing import Annotated

import typer

from resetdesk import cli_sla
from resetdesk.bootstrap import App
from resetdesk.cli_common import app_context, echo_json, fail, staff
from workflow.adapters import queries
from workflow.domain.states import Outcome, State, WaitingOn

tickets = typer.Typer(help="List, show and act on tickets.", no_args_is_help=True)

STATES = [s.value for s in State]
WAITING = [w.value for w in WaitingOn]


@tickets.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help=f"one of: {', '.join(STATES)}")] = None,
    waiting_on: Annotated[str | None, typer.Option(help=f"one of: {', '.join(WAITING)}")] = None,
    sort: Annotated[str, typer.Option(help="created | updated | due (first-reply due time)")] = "created",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Tickets, oldest first."""
    if state and state not in STATES:
        fail(f"unknown state {state!r}; use one of: {', '.join(STATES)}")
    if waiting_on and waiting_on not in WAITING:
        fail(f"unknown waiting-on {waiting_on!r}; use one of: {', '.join(WAITING)}")
    with app_context() as app:
        try:
            rows = queries.list_tickets(app.db, state=state, waiting_on=waiting_on, sort=sort,
                                        limit=limit)
        except ValueError as err:
            fail(str(err))
        slas, now, book = queries.sla_of(app.db, [r.id for r in rows]), app.clock.now(), app.sla_book
    flags = {r.id: cli_sla.flag(cli_sla.clock_views(slas.get(r.id), book, now)) for r in rows}
    if as_json:
        echo_json([r.as_json() | {"sla_flag": flags[r.id].lower() or None} for r in rows],
                  queries.dumps)
        return
    if not rows:
        typer.echo("no tickets")
        return
    typer.echo(f"{'REFERENCE':<13} {'STATE':<17} {'OUTCOME/WAITING':<22} {'ASSIGNEE':<12} "
               f"{'CREATED':<18} {'FIRST REPLY DUE':<18} SLA")
    for r in rows:
        extra = r.outcome or r.waiting_on or ""
        due = f"{r.first_reply_due_at:%Y-%m-%d %H:%M}Z" if r.first_reply_due_at else "-"
        typer.echo(f"{r.reference:<13} {r.state:<17} {extra:<22} {r.assignee or '':<12} "
                   f"{r.created_at:%Y-%m-%d %H:%M}Z  {due:<18} {flags[r.id]}".rstrip())


@tickets.command()
def show(
    ticket: Annotated[str, typer.Argument(help="ticket id or reference (RD-XXXX-XXXX)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """State, data and history of one ticket."""
    with app_context() as app:
        details = queries.ticket_details(app.db, ticket)
        book, now = app.sla_book, app.clock.now()
    if as_json:
        echo_json(details, queries.dumps)
        return
    typer.echo(f"{details['reference']}  ({details['id']})  version {details['version']}")
    typer.echo(f"state: {details['state']}  outcome: {details['outcome'] or '-'}  "
               f"waiting on: {details['waiting_on'] or '-'}  assignee: {details['assignee'] or '-'}")
    views = cli_sla.clock_views(details["sla"], book, now)
    typer.echo("SLA: " + (f"cycle {details['sla']['cycle']}" if views else "none (never queued)"))
    for view in views:
        typer.echo(cli_sla.describe(view, book))
    typer.echo("data:")
    typer.echo(queries.dumps(details["data"]))
    typer.echo("history:")
    for h in details["history"]:
        typer.echo(f"  {h['at']}  {h['actor']:<28} {h['trigger']:<22} {h['from']} -> {h['to']}"
                   + (f"  [{h['outcome']}]" if h["outcome"] else "")
                   + (f"  {h['reason']}" if h["reason"] else ""))


@tickets.command("act")
def act_(
    ticket: Annotated[str, typer.Argument(help="ticket id or reference")],
    trigger: Annotated[str, typer.Argument(help="e.g. claim, release, take_over, resolve, "
                                                "abandon, reopen")],
    as_agent: Annotated[str, typer.Option("--as", help="agent login")],
    reason: Annotated[str | None, typer.Option(help="why (kept in the audit trail)")] = None,
    expected_version: Annotated[int | None, typer.Option(help="refuse if changed since")] = None,
) -> None:
    """Fire one plain move (moves that create a key, a booking or a code have their own)."""
    from workflow.service import commands as c

    with app_context() as app:
        result = app.bus.handle(c.FireTrigger(
            actor=staff(app, as_agent), ticket_id=_ticket_id(app, ticket), trigger=trigger,
            expected_version=expected_version, reason=reason))
    typer.echo(f"{result.reference}: {trigger} -> {result.state.value} (version {result.version})")


AsAgent = Annotated[str, typer.Option("--as", help="agent login")]
TicketArg = Annotated[str, typer.Argument(help="ticket id or reference")]


def _ticket_id(app: App, ticket: str) -> str:
    return str(queries.ticket_details(app.db, ticket)["id"])


@tickets.command()
def claim(ticket: TicketArg, as_agent: AsAgent,
          take_over: Annotated[bool, typer.Option(
              help="take it from another agent (supervisors only)")] = False,
          ) -> None:
    """Take a ticket (one agent at a time)."""
    from workflow.service import commands as c

    with app_context() as app:
        kind = c.TakeOver if take_over else c.ClaimTicket
        result = app.bus.handle(kind(actor=staff(app, as_agent),
                                     ticket_id=_ticket_id(app, ticket)))
    typer.echo(f"{result.reference}: claimed by {result.assignee} (version {result.version})")


@tickets.command()
def reassign(ticket: TicketArg, as_agent: AsAgent,
             to: Annotated[str, typer.Option("--to", help="the agent's login")],
             reason: Annotated[str | None, typer.Option(help="kept in the audit trail")] = None,
             ) -> None:
    """Hand a ticket to another agent (supervisors only)."""
    from workflow.service import commands as c

    with app_context() as app:
        result = app.bus.handle(c.Reassign(actor=staff(app, as_agent),
                                           ticket_id=_ticket_id(app, ticket), to_agent=to,
                                           reason=reason))
    typer.echo(f"{result.reference}: assigned to {result.assignee} (version {result.version})")


@tickets.command()
def reply(ticket: TicketArg, as_agent: AsAgent,
          message: Annotated[str, typer.Option(help="the text the customer receives")]) -> None:
    """Write to the customer (their language's template); stops the first-reply clock."""
    from workflow.service import commands as c

    with app_context() as app:
        result = app.bus.handle(c.Reply(actor=staff(app, as_agent),
                                        ticket_id=_ticket_id(app, ticket), message=message))
    typer.echo(f"{result.reference}: reply queued for the customer")


@tickets.command()
def close(ticket: TicketArg, as_agent: AsAgent,
          outcome: Annotated[str, typer.Option(help="resolved | abandoned")] = "resolved",
          reason: Annotated[str | None, typer.Option(help="kept in the audit trail")] = None,
          ) -> None:
    """Close a ticket you hold as resolved or abandoned."""
    from workflow.service import commands as c

    kinds = {"resolved": c.Resolve, "abandoned": c.Abandon}
    if outcome not in kinds:
        fail("--outcome must be resolved or abandoned")
    with app_context() as app:
        result = app.bus.handle(kinds[outcome](actor=staff(app, as_agent),
                                               ticket_id=_ticket_id(app, ticket), reason=reason))
    typer.echo(f"{result.reference}: closed {result.outcome.value if result.outcome else ''}")


REJECTIONS = [o.value for o in Outcome if o.is_rejection]


@tickets.command()
def reject(ticket: TicketArg, as_agent: AsAgent,
           outcome: Annotated[str, typer.Option(help=f"one of: {', '.join(REJECTIONS)}")],
           reason: Annotated[str, typer.Option(help="why (kept in the audit trail)")],
           expected_version: Annotated[int | None, typer.Option(
               help="refuse if changed since")] = None,
           ) -> None:
    """Close a ticket you hold as rejected (the customer's request cannot be done)."""
    from workflow.service import commands as c

    if outcome not in REJECTIONS:
        fail(f"--outcome must be one of: {', '.join(REJECTIONS)}")
    with app_context() as app:
        result = app.bus.handle(c.RejectTicket(
            actor=staff(app, as_agent), ticket_id=_ticket_id(app, ticket),
            outcome=Outcome(outcome), reason=reason, expected_version=expected_version))
    typer.echo(f"{result.reference}: closed {result.outcome.value if result.outcome else ''}")


@tickets.command()
def note(ticket: TicketArg, as_agent: AsAgent,
         body: Annotated[str, typer.Option(help="internal; never shown to the customer")]) -> None:
    """Add an internal note."""
    from workflow.service import commands as c

    with app_context() as app:
        app.bus.handle(c.AddNote(actor=staff(app, as_agent), ticket_id=_ticket_id(app, ticket),
                                 body=body))
    typer.echo("note added")
