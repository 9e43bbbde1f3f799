"""The one error a contract check raises, whatever went wrong.

Callers map `code` to an outcome (HTTP 400/413/415, dead-letter with reason) without parsing
text; `reason` is for the producer's log and names the offending field path.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import ValidationError


class Code(StrEnum):
    """Machine codes carried by `ContractError.code`; stable, part of the contract."""

    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    BAD_NUMBER = "bad_number"
    NUL_CHAR = "nul_char"
    DUPLICATE_KEY = "duplicate_key"
    OVERSIZE = "oversize"
    TOO_LONG = "too_long"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    WRONG_TYPE = "wrong_type"
    BAD_VALUE = "bad_value"
    BAD_ENUM = "bad_enum"
    BAD_BASE64 = "bad_base64"
    BAD_MAGIC = "bad_magic"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_VERSION = "unknown_version"
    BAD_SPECVERSION = "bad_specversion"
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    RESERVED_HEADER = "reserved_header"


class ContractError(ValueError):
    """A message that does not meet the contract; never worth retrying.

    `path` is the dotted field path of the first problem ("" for the message as a whole);
    `errors` lists every problem found as (code, path, message).
    """

    def __init__(
        self,
        code: Code | str,
        reason: str,
        *,
        path: str = "",
        errors: tuple[tuple[str, str, str], ...] = (),
    ) -> None:
        super().__init__(reason)
        self.code: str = str(code)
        self.reason = reason
        self.path = path
        self.errors = errors or ((self.code, path, reason),)

    def __repr__(self) -> str:
        return f"ContractError(code={self.code!r}, reason={self.reason!r})"


_CODES = frozenset(c.value for c in Code)
_ENUM_TYPES = frozenset({"literal_error", "enum"})
_TOO_LONG_TYPES = frozenset({"string_too_long", "too_long", "bytes_too_long"})
_REASON_LIMIT = 5


def _code_for(pydantic_type: str) -> str:
    if pydantic_type in _CODES:
        return pydantic_type
    if pydantic_type == "missing":
        return Code.MISSING_FIELD
    if pydantic_type == "extra_forbidden":
        return Code.UNKNOWN_FIELD
    if pydantic_type in _ENUM_TYPES:
        return Code.BAD_ENUM
    if pydantic_type in _TOO_LONG_TYPES:
        return Code.TOO_LONG
    if pydantic_type.endswith("_type") or pydantic_type == "is_instance_of":
        return Code.WRONG_TYPE
    return Code.BAD_VALUE


def format_path(loc: tuple[Any, ...], prefix: str = "") -> str:
    """Render a pydantic location as `data.requester.email` / `data.items[2]`."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def from_validation_error(exc: ValidationError, prefix: str = "") -> ContractError:
    """Translate pydantic's report; the first error decides the code."""
    found: list[tuple[str, str, str]] = []
    for err in exc.errors(include_url=False, include_input=False):
        path = format_path(tuple(err["loc"]), prefix)
        message = err["msg"]
        if err["type"] == "missing":
            message = "field is required"
        elif err["type"] == "extra_forbidden":
            message = "field is not part of the contract"
        found.append((_code_for(err["type"]), path, message))
    if not found:  # pragma: no cover - pydantic always reports at least one
        return ContractError(Code.BAD_VALUE, f"{prefix or 'message'}: invalid")
    shown = [f"{path or 'message'}: {message}" for _, path, message in found[:_REASON_LIMIT]]
    if len(found) > _REASON_LIMIT:
        shown.append(f"and {len(found) - _REASON_LIMIT} more")
    code, path, _ = found[0]
    return ContractError(code, "; ".join(shown), path=path, errors=tuple(found))
