"""Field types shared by every contract: bounded text, formats, and RFC 3339 time.

Contracts validate in pydantic strict mode so "1" is never an int and 1 never a bool. Strict
mode refuses a JSON string for `datetime`/`date` when validating parsed Python objects, so the
time types parse the string themselves (RFC 3339 only; no Unix timestamps) and normalise to UTC,
which keeps a digest of the data independent of the producer's offset.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    validate_email,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from schemas.countries import ISO3166_ALPHA2
from schemas.time_zones import IANA_TIME_ZONES


class Contract(BaseModel):
    """Base of every message model: strict, closed, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_EXCEPT_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
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


@dataclass(frozen=True)
class TextRule:
    """A check the server runs on a string, and the same rule as a JSON Schema ``pattern`` so
    the exported schema refuses what the server refuses (tests/unit/test_contract_agreement.py)."""

    check: Callable[[str], str]
    pattern: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        found = handler(schema)
        found["pattern"] = self.pattern
        return found


_C0_C1 = r"\x00-\x1f\x7f-\x9f"
#: Python's str.isspace() outside C0/C1, spelt out: ECMA-262's \s differs (U+FEFF)
_SPACES = r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
ONE_LINE_PATTERN: Final = rf"^[^{_C0_C1}]*[^{_SPACES}{_C0_C1}][^{_C0_C1}]*$"
MULTI_LINE_PATTERN: Final = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"

OneLine = TextRule(_single_line, ONE_LINE_PATTERN)
"""Marker for one-line human text: no control characters, not blank."""

MultiLine = TextRule(_multi_line, MULTI_LINE_PATTERN)
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
    if not _E164.fullmatch(value):
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
    Field(min_length=2, max_length=2, json_schema_extra={"enum": sorted(ISO3166_ALPHA2)}),
    AfterValidator(_country),
]


def _time_zone(value: str) -> str:
    if value not in _TIME_ZONES:
        raise PydanticCustomError(
            "bad_value", "value is not an IANA time zone name such as America/Toronto")
    return value


_TIME_ZONES: Final = frozenset(IANA_TIME_ZONES)

TimeZone = Annotated[
    str,
    Field(min_length=3, max_length=40, json_schema_extra={"enum": list(IANA_TIME_ZONES)}),
    AfterValidator(_time_zone),
]
"""An IANA time zone name from the embedded list (schemas/time_zones.py), case as IANA spells it."""


def parse_rfc3339(value: object) -> datetime:
    """Accept an aware datetime or an RFC 3339 string; return it in UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        if not _RFC3339.fullmatch(value):
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
    if not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("bad_value", "value is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise PydanticCustomError("bad_value", "value is not a real calendar date") from exc


Timestamp = Annotated[datetime, BeforeValidator(parse_rfc3339),
                      Field(json_schema_extra={"pattern": _RFC3339.pattern})]
"""RFC 3339 date-time with offset, stored in UTC."""

IsoDate = Annotated[date, BeforeValidator(_parse_date),
                    Field(json_schema_extra={"pattern": _ISO_DATE.pattern})]
"""Calendar date YYYY-MM-DD."""
