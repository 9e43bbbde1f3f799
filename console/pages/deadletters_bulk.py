"""Retry or discard dead letters: the ticked ones, one from its own page, or every one the
filter matches. As on the queue, a GET states exactly how many letters will change (and how
many of them died for a permanent reason, which are retried only when that box is ticked); the
POST from that page acts, one letter at a time, each audited with the supervisor's login; if
the filter matches another number by then, nothing is done and the new count is confirmed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, QueryParams

from console.deps import WebDeps
from console.pages.deadletters import shown, supervisor_refusal
from console.pages.deadletters_view import KEY, PATH, BadFilter, DeadLetterQuery
from console.pages.queue import Deps, Me, refused
from console.pages.render import page
from console.sessions import Signed
from workflow.adapters.queries import dead_letter_view as view
from workflow.service.dead_letter_ports import Outcome

router = APIRouter(include_in_schema=False)
#: the most letters one action changes (a wider filter must be narrowed first)
BULK_MAX = 1000
ACTIONS = {"retry": "Retry", "discard": "Discard"}
DONE = {"retry": "retried", "discard": "discarded"}
SCOPES = ("selected", "filter")


@dataclass(frozen=True)
class Bulk:
    action: str
    scope: str
    keys: tuple[str, ...]
    query: DeadLetterQuery
    reason: str = ""
    confirm_permanent: bool = False

    @classmethod
    def parse(cls, params: QueryParams | FormData) -> Bulk:
        action, scope = str(params.get("action", "")), str(params.get("scope", "selected"))
        if action not in ACTIONS:
            raise BadFilter(f"unknown action {action[:40]!r}; use one of {', '.join(ACTIONS)}")
        if scope not in SCOPES:
            raise BadFilter("scope is selected or filter")
        keys = tuple(dict.fromkeys(v for v in map(str, params.getlist("key")) if KEY.fullmatch(v)))
        text: Mapping[str, str] = {k: v for k, v in params.items() if isinstance(v, str)}
        return cls(action, scope, keys[:BULK_MAX + 1] if scope == "selected" else (),
                   DeadLetterQuery.parse(text), str(params.get("reason", "")).strip()[:500],
                   params.get("confirm_permanent") in ("1", "on"))


def _targets(d: WebDeps, bulk: Bulk) -> list[view.Letter]:
    """The dead letters the action would change now."""
    if bulk.scope == "filter":
        return view.list_letters(d.db, bulk.query.filter(), limit=BULK_MAX + 1)
    found = (view.find(d.db, k) for k in bulk.keys)
    return [x for x in found if x is not None and x.status == "dead"]


def _confirm(request: Request, me: Signed, bulk: Bulk, letters: list[view.Letter],
             changed_from: int | None = None, problem: str = "") -> HTMLResponse:
    permanent = Counter(x.code for x in letters if x.permanent)
    return page(request, "agent/deadletters_confirm.html", me, bulk=bulk, count=len(letters),
                letters=[shown(x) for x in letters[:50]], label=ACTIONS[bulk.action],
                verb=DONE[bulk.action], limit=BULK_MAX, changed_from=changed_from,
                permanent=sum(permanent.values()), permanent_codes=sorted(permanent.items()),
                problem=problem, back=bulk.query.url(), status=400 if problem else 200)


def _parse(request: Request, me: Signed, params: QueryParams | FormData) -> Bulk | HTMLResponse:
    if (no := supervisor_refusal(request, me)) is not None:
        return no
    try:
        return Bulk.parse(params)
    except BadFilter as err:
        return refused(request, me, str(err))


@router.get(PATH + "/bulk")
async def confirm(request: Request, d: Deps, me: Me) -> HTMLResponse:
    """What the action would do, the reason to record, and the button that does it."""
    bulk = _parse(request, me, request.query_params)
    if isinstance(bulk, HTMLResponse):
        return bulk
    letters = await run_in_threadpool(_targets, d, bulk)
    return _confirm(request, me, bulk, letters)


def _act(d: WebDeps, me: Signed, bulk: Bulk, letters: list[view.Letter]) -> list[Outcome]:
    assert d.dead_letters is not None
    actor, now, keys = f"agent:{me.login}", d.clock.now(), [x.key for x in letters]
    if bulk.action == "retry":
        done = d.dead_letters.retry(keys, actor=actor, why=bulk.reason, now=now,
                                    confirm_permanent=bulk.confirm_permanent)
        if any(o.ok for o in done):
            d.on_recorded()  # embedded mode: wake the workers for the revived rows
        return done
    return d.dead_letters.discard(keys, actor=actor, why=bulk.reason, now=now)


def summary(done: list[Outcome], verb: str) -> str:
    """``3 retried, 1 died for a permanent reason (…)``: successes first, then each refusal."""
    if not done:
        return "No dead letter changed."
    ok = sum(1 for x in done if x.ok)
    refusals = Counter(x.text.split(":", 1)[0] for x in done if not x.ok)
    return ", ".join([f"{ok} {verb}"] + [f"{n} {text}" for text, n in refusals.items()])


@router.post(PATH + "/bulk")
async def apply(request: Request, d: Deps, me: Me) -> HTMLResponse:
    """The confirmed action: the ticked letters, or the filter's if it still holds as many."""
    form = await request.form()
    bulk = _parse(request, me, form)
    if isinstance(bulk, HTMLResponse):
        return bulk
    if d.dead_letters is None:
        return refused(request, me, "this process cannot act on dead letters", 503)
    try:
        expected = int(str(form.get("expected", "")))
    except ValueError:
        return refused(request, me, "confirm first")
    letters = await run_in_threadpool(_targets, d, bulk)
    if len(letters) != expected or len(letters) > BULK_MAX:
        return _confirm(request, me, bulk, letters, changed_from=expected)
    if not bulk.reason:
        return _confirm(request, me, bulk, letters,
                        problem="Give a reason: it is kept in the audit trail.")
    done = await run_in_threadpool(_act, d, me, bulk, letters)
    return page(request, "agent/deadletters_done.html", me, done=done, bulk=bulk,
                summary=summary(done, DONE[bulk.action]), back=bulk.query.url())
