"""``/ops/dead-letters``: the dead letters of both transports (the AMQP archive and embedded
mode's dead rows) on one page, for supervisors: filters, the reason and whether it is
permanent, one letter's ``x-death`` history, headers and payload with personal data masked, and
who retried or discarded what (the audit). Retry and discard go through the confirmation in
:mod:`console.pages.deadletters_bulk`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from console.deps import WebDeps
from console.pages.deadletters_view import KEY, PATH, BadFilter, DeadLetterQuery
from console.pages.queue import Deps, Me, refused
from console.pages.render import page
from console.sessions import Signed
from resetdesk.masking import mask
from workflow.adapters.queries import dead_letter_view as view
from workflow.adapters.queries import dumps

router = APIRouter(include_in_schema=False)
#: rows on the page (a bulk action by filter reaches every match, not only these)
LIMIT = 200
SUPERVISORS_ONLY = "only a supervisor may open the dead letters"


def supervisor_refusal(request: Request, me: Signed) -> HTMLResponse | None:
    return None if me.role == "supervisor" else refused(request, me, SUPERVISORS_ONLY, 403)


def shown(letter: view.Letter) -> dict[str, Any]:
    """A letter as a row shows it: the reason's personal data masked like a log line's."""
    return {**letter.summary(), "reason": mask(letter.reason), "dead_at": letter.dead_at}


def _listing(d: WebDeps, query: DeadLetterQuery) -> dict[str, Any]:
    letters, total = view.page_of_letters(d.db, query.filter(), limit=LIMIT)
    return {"letters": [shown(x) for x in letters], "more": total > len(letters), "total": total,
            "actions": view.actions(d.db, limit=20), "query": query,
            "transports": view.TRANSPORTS, "permanence": view.PERMANENCE,
            "can_act": d.dead_letters is not None}


@router.get(PATH)
async def dead_letters(request: Request, d: Deps, me: Me) -> HTMLResponse:
    if (no := supervisor_refusal(request, me)) is not None:
        return no
    try:
        query = DeadLetterQuery.parse(dict(request.query_params))
    except BadFilter as err:
        return refused(request, me, str(err))
    listing = await run_in_threadpool(_listing, d, query)
    return page(request, "agent/deadletters.html", me, **listing)


def _pretty(details: dict[str, Any]) -> dict[str, Any]:
    """Pretty JSON; the free text in it (a reason header, an error) masked like a log line
    (the payload's fields are masked already, by name)."""
    return {**details, "reason": mask(details["reason"]),
            **{f"{name}_text": mask(dumps(details[name]))
               for name in ("x_death", "headers", "properties", "payload")}}


@router.get(PATH + "/{key}")
async def dead_letter(request: Request, key: str, d: Deps, me: Me) -> HTMLResponse:
    """One letter: why it died, its history, headers and masked payload, and what was done."""
    if (no := supervisor_refusal(request, me)) is not None:
        return no
    details = await run_in_threadpool(view.detail, d.db, key) if KEY.fullmatch(key) else None
    if details is None:
        return refused(request, me, f"no dead letter {key[:40]!r} (retried or discarded "
                       "already? embedded rows leave the list once they are)", 404)
    return page(request, "agent/deadletters_letter.html", me, letter=_pretty(details),
                can_act=d.dead_letters is not None)
