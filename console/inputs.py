"""Checks at the web edge, so the domain only ever sees sane values.

Dates and instants stay within years 2000-2100 (date arithmetic near ``datetime.max`` overflows
deep inside the slot grid otherwise); hand-read bodies are bounded, strictly UTF-8 and parsed by
the contract's strict JSON reader (depth, size, NUL); ids and counters are typed and bounded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Path
from pydantic import Field

from console.errors import refuse
from schemas.errors import ContractError
from schemas.jsonstrict import loads_object

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
#: a hand-read form is a handful of short fields
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 20

#: a ticket's id (32 hex digits) or the reference an agent reads out ("RD-XXXX-XXXX")
TicketId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
#: a row's integer id
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: the ticket version an agent last saw (optimistic lock)
Version = Annotated[int | None, Field(ge=0, le=2**31 - 1)]


def sane_day(day: date, what: str = "day") -> date:
    if not EARLIEST <= day <= LATEST:
        raise refuse(422, f"{what} must be between {EARLIEST} and {LATEST}", "bad_date")
    return day


def parse_instant(text: str, what: str = "slot") -> datetime:
    """An ISO 8601 date and time with its offset, within the sane years."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise refuse(422, f"{what} is not a date and time", "bad_date") from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise refuse(422, f"{what} needs a time zone offset", "bad_date")
    sane_day(at.date(), what)
    return at


def form_fields(raw: bytes, content_type: str) -> dict[str, str]:
    """A small hand-read body as text fields: a JSON object or a url-encoded form."""
    if not raw:
        return {}
    if len(raw) > MAX_FORM_BYTES:
        raise refuse(413, f"send at most {MAX_FORM_BYTES} bytes")
    if content_type.startswith("application/json"):
        try:
            data = loads_object(raw)
        except ContractError as err:
            raise refuse(400, f"send a JSON object: {err.reason}", "bad_json") from None
        return {k: str(v) for k, v in data.items() if v is not None}
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, max_num_fields=MAX_FORM_FIELDS, strict_parsing=False)
    except UnicodeDecodeError:
        raise refuse(400, "the form is not valid UTF-8", "bad_form") from None
    except ValueError:
        raise refuse(400, f"send at most {MAX_FORM_FIELDS} form fields", "bad_form") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields
