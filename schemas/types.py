"""Field types shared by every contract: bounded text, formats, and RFC 3339 time.

Contracts validate in pydantic strict mode so "1" is never an int and 1 never a bool. Strict
mode refuses a JSON string for `datetime`/`date` when validating parsed Python objects, so the
time types parse the string themselves (RFC 3339 only; no Unix timestamps) and normalise to UTC,
which keeps a digest of the data independent of the producer's offset.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    validate_email,
)
from pydantic_core import PydanticCustomError

from schemas.countries import ISO3166_ALPHA2


class Contract(BaseModel):
    """Base of every message model: strict, closed, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_EXCEPT_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
E164_PATTERN: Final = _E164.pattern


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError("bad_value", "control characters are not allowed")
    if not value.strip():
        raise PydanticCustomError("bad_value", "value must not be blank")
    return value


def _multi_line(value: str) -> str:
    if _CONTROL_EXCEPT_NEWLINES.search(value):
        raise PydanticCustomError("bad_value", "control characters other than newline and tab")
    return value


OneLine = AfterValidator(_single_line)
"""Marker for one-line human text: no control characters, not blank."""

MultiLine = AfterValidator(_multi_line)
"""Marker for free text that may span lines (newline and tab allowed)."""


def _email(value: str) -> str:
    if "<" in value or ">" in value:
        raise PydanticCustomError("bad_value", "value is not a valid email address")
    try:
        _, normalised = validate_email(value)
    except PydanticCustomError as exc:
        raise PydanticCustomError("bad_value", "value is not a valid email address") from exc
    return normalised


Email = Annotated[
    str,
    Field(min_length=3, max_length=254, json_schema_extra={"format": "email"}),
    AfterValidator(_email),
]


def _phone(value: str) -> str:
    if not _E164.match(value):
        raise PydanticCustomError("bad_value", "value is not an E.164 phone number such as +16045550123")
    return value


Phone = Annotated[
    str, Field(max_length=16, json_schema_extra={"pattern": E164_PATTERN}), AfterValidator(_phone)
]


def _country(value: str) -> str:
    if value not in ISO3166_ALPHA2:
        raise PydanticCustomError(
            "bad_value", "value is not an ISO 3166-1 alpha-2 country code in upper case"
        )
    return value


Country = Annotated[
    str,
    Field(min_length=2, max_length=2, json_schema_extra={"pattern": "^[A-Z]{2}$"}),
    AfterValidator(_country),
]


def parse_rfc3339(value: object) -> datetime:
    """Accept an aware datetime or an RFC 3339 string; return it in UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        if not _RFC3339.match(value):
            raise PydanticCustomError(
                "bad_value", "value is not an RFC 3339 timestamp such as 2024-05-01T17:30:00Z"
            )
        try:
            parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError as exc:
            raise PydanticCustomError("bad_value", "value is not a real date and time") from exc
    else:
        raise PydanticCustomError("wrong_type", "value should be an RFC 3339 timestamp string")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PydanticCustomError("bad_value", "timestamp must carry an offset")
    return parsed.astimezone(UTC)


def _parse_date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("wrong_type", "value should be a date string YYYY-MM-DD")
    if not _ISO_DATE.match(value):
        raise PydanticCustomError("bad_value", "value is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise PydanticCustomError("bad_value", "value is not a real calendar date") from exc


Timestamp = Annotated[datetime, BeforeValidator(parse_rfc3339)]
"""RFC 3339 date-time with offset, stored in UTC."""

IsoDate = Annotated[date, BeforeValidator(_parse_date)]
"""Calendar date YYYY-MM-DD."""
