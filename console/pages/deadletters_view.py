"""The dead-letter page's query string as one object: the filters (the same ones as ``resetdesk
dlq list``), parsed once, written back into links and hidden fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from urllib.parse import urlencode

from workflow.adapters.queries import dead_letter_view as view
from workflow.adapters.queries.dead_letters import STATUSES

PATH = "/ops/dead-letters"
#: what a dead letter's key looks like (anything else names no letter and is dropped)
KEY = re.compile(r"(amqp|delivery):\d{1,12}|inbox:[A-Za-z0-9-]{1,16}")


class BadFilter(ValueError):
    """A filter value the page does not offer."""


@dataclass(frozen=True)
class DeadLetterQuery:
    transport: str = ""
    queue: str = ""
    cause: str = ""
    permanence: str = ""
    since: str = ""
    status: str = "dead"

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> DeadLetterQuery:
        q = cls(**{f.name: str(params.get(f.name, f.default)).strip()[:120]
                   for f in fields(cls)})
        if q.since:
            try:
                date.fromisoformat(q.since)
            except ValueError:
                raise BadFilter("since is a day, YYYY-MM-DD") from None
        if q.status not in STATUSES:
            raise BadFilter(f"status is one of {', '.join(STATUSES)}")
        try:
            q.filter()
        except ValueError as err:
            raise BadFilter(str(err)) from None
        return q

    def filter(self) -> view.Filter:
        return view.Filter(self.transport or None, self.queue or None, self.cause or None,
                           self.permanence or None,
                           date.fromisoformat(self.since) if self.since else None,
                           self.status).check()

    def pairs(self) -> list[tuple[str, str]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)
                if getattr(self, f.name) != f.default]

    def url(self, path: str = PATH) -> str:
        return path + (f"?{urlencode(self.pairs())}" if self.pairs() else "")

    def describe(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.pairs()) or "every dead letter"

    @property
    def narrowed(self) -> bool:
        return bool(self.pairs())
