"""What the queue pages show: the filters as the query string carries them (so a filtered queue
is a link an agent can share), and each row as the template needs it.

A row's countdown is rendered as text by the server (it reads right without script, and after
each refresh) and carries what ``queue.js`` needs to tick it: the remaining business seconds,
whether the clock is ticking now and until when (the desk's next closing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import get_args
from urllib.parse import urlencode

from workflow.adapters.queries import SLA_STATUSES, QueueFilters, QueueRow
from workflow.domain.model_rules import METHODS
from workflow.domain.rules import TOOLS, Language
from workflow.domain.states import State, WaitingOn
from workflow.domain.ticket_sla import SlaBook

#: each filter's allowed values and their labels, in the order the form offers them
CHOICES: dict[str, dict[str, str]] = {
    "state": {s.value: s.value.replace("-", " ") for s in State},
    "waiting_on": {w.value: w.value.replace("-", " ") for w in WaitingOn},
    "sla": {s: s.replace("_", " ").capitalize() for s in SLA_STATUSES} | {"ok": "OK"},
    "language": {lang: lang for lang in get_args(Language)},
    "method": {m: TOOLS.get(m, m) for m in METHODS},
}
FLAGS = ("mine", "unassigned")
MAX_SEARCH = 100
#: the escalating-soon view's horizons, in business minutes
HORIZONS = (15, 30, 60, 120, 240)


def printable(text: str) -> str:
    """``text`` without control characters (PostgreSQL refuses a NUL in a string)."""
    return "".join(ch for ch in text if ch.isprintable())


class BadQuery(ValueError):
    """A filter value the form never offers (a hand-edited or stale link)."""


@dataclass(frozen=True)
class QueueQuery:
    """The queue's query string: filters, search and the page's cursor."""

    state: str = ""
    waiting_on: str = ""
    sla: str = ""
    language: str = ""
    method: str = ""
    mine: bool = False
    unassigned: bool = False
    q: str = ""
    after: str = ""

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> QueueQuery:
        values: dict[str, str | bool] = {}
        for name, allowed in CHOICES.items():
            value = params.get(name, "").strip()
            if value and value not in allowed:
                raise BadQuery(f"unknown {name.replace('_', ' ')} {value[:40]!r}; use one of "
                               f"{', '.join(allowed)}")
            values[name] = value
        for flag in FLAGS:
            values[flag] = params.get(flag, "") in ("1", "on", "true")
        values["q"] = printable(params.get("q", "")).strip()
        if len(str(values["q"])) > MAX_SEARCH:
            raise BadQuery(f"a search is at most {MAX_SEARCH} characters")
        values["after"] = printable(params.get("after", "")).strip()[:200]
        return cls(**values)  # type: ignore[arg-type]

    def filters(self, login: str) -> QueueFilters:
        return QueueFilters(state=self.state or None, waiting_on=self.waiting_on or None,
                            sla=self.sla or None, language=self.language or None,
                            method=self.method or None, assignee=login if self.mine else None,
                            unassigned=self.unassigned, search=self.q or None)

    def pairs(self) -> list[tuple[str, str]]:
        """The non-empty parameters, in a stable order: hidden fields and links."""
        found: list[tuple[str, str]] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is True:
                found.append((f.name, "1"))
            elif value:
                found.append((f.name, str(value)))
        return found

    def url(self, path: str = "/queue", **changes: str) -> str:
        """This query at ``path``, with ``changes`` (``after=""`` drops the cursor)."""
        query = urlencode(replace(self, **changes).pairs())  # type: ignore[arg-type]
        return f"{path}?{query}" if query else path

    def describe(self) -> str:
        """The filters in words: ``language fr, unassigned, search "dana"``."""
        words = []
        for name, value in self.pairs():
            if name in CHOICES:
                words.append(f"{name.replace('_', ' ')} {CHOICES[name][value]}")
            elif name in FLAGS:
                words.append(name)
            elif name == "q":
                words.append(f"search “{value}”")
        return ", ".join(words) or "every open ticket"

    @property
    def narrowed(self) -> bool:
        return any(name != "after" for name, _ in self.pairs())


def clock_text(seconds: int) -> str:
    """Business time as ``h:mm:ss`` (queue.js formats it the same way)."""
    h, rest = divmod(abs(seconds), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


def left_text(seconds: int) -> str:
    return f"{clock_text(seconds)} left" if seconds >= 0 else f"overdue {clock_text(seconds)}"


def when_text(at: datetime, now: datetime, book: SlaBook) -> str:
    """``Mon 06:00 PST`` in the desk's time zone; with the date when it is a week or more away."""
    local = at.astimezone(book.calendar.zone)
    shown = local.strftime("%a %d %b %H:%M %Z" if at - now >= timedelta(days=6) else "%a %H:%M %Z")
    return shown.strip()


@dataclass(frozen=True)
class RowView:
    row: QueueRow
    status: str  # ok | at_risk | breached | paused | none
    status_label: str
    left: str
    #: why the countdown stands still, when it does
    note: str
    remaining: int | None
    ticking: bool
    until: str | None


def row_view(row: QueueRow, now: datetime, book: SlaBook) -> RowView:
    c = row.countdown
    status = row.sla_status or "none"
    label = CHOICES["sla"].get(status, "No clock")
    if c is None:
        return RowView(row, status, label, "—", "", None, False, None)
    if c.paused:
        note = "paused — waiting on customer"
    elif not c.ticking and c.until is not None:
        note = f"outside hours — resumes {when_text(c.until, now, book)}"
    else:
        note = ""
    until = c.until.isoformat() if c.ticking and c.until else None
    return RowView(row, status, label, left_text(c.remaining_s), note, c.remaining_s,
                   c.ticking, until)
