"""The CloudEvents 1.0 envelope as ResetDesk accepts it, and the decoded event callers get.

Binding-independent: registry.py turns structured, HTTP-binary and AMQP messages into one
attribute dict; this module says whether the attributes are acceptable.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from schemas.errors import Code, ContractError
from schemas.requests_v1 import RequestSubmittedV1
from schemas.types import Contract, OneLine, Timestamp

SPECVERSION: Final = "1.0"
JSON_MEDIA_TYPE: Final = "application/json"
STRUCTURED_MEDIA_TYPE: Final = "application/cloudevents+json"
CONTEXT_ATTRIBUTES: Final = frozenset(
    {"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema"}
)
RESERVED_NAMES: Final = frozenset({"data", "data_base64"})
EXTENSION_NAME: Final = re.compile(r"^[a-z0-9]{1,20}$")
MAX_EXTENSIONS: Final = 16
MAX_EXTENSION_CHARS: Final = 256
INT32: Final = (-(2**31), 2**31 - 1)

_URI_CHARS = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _uri_reference(value: str) -> str:
    if not _URI_CHARS.match(value):
        raise PydanticCustomError(
            "bad_value", "value is not an RFC 3986 URI-reference (percent-encode other characters)"
        )
    try:
        urlsplit(value)
    except ValueError as exc:
        raise PydanticCustomError("bad_value", "value is not an RFC 3986 URI-reference") from exc
    return value


def _absolute_uri(value: str) -> str:
    _uri_reference(value)
    if not _SCHEME.match(value):
        raise PydanticCustomError("bad_value", "value is not an absolute URI (scheme required)")
    return value


UriReference = Annotated[
    str,
    Field(min_length=1, max_length=512, json_schema_extra={"format": "uri-reference"}),
    AfterValidator(_uri_reference),
]
ExtensionValue = str | int | bool


class Envelope(Contract):
    """CloudEvents 1.0 context attributes; extension attributes are allowed within limits."""

    specversion: Literal["1.0"]
    id: Annotated[str, Field(min_length=1, max_length=256), OneLine]
    source: UriReference
    type: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    subject: Annotated[str, Field(min_length=1, max_length=256), OneLine] | None = None
    time: Timestamp | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: (
        Annotated[
            str,
            Field(min_length=1, max_length=512, json_schema_extra={"format": "uri"}),
            AfterValidator(_absolute_uri),
        ]
        | None
    ) = None


def check_extensions(attrs: dict[str, object]) -> dict[str, ExtensionValue]:
    """Bound the extension attributes: CE naming, count, CE types (String, Integer, Boolean)."""
    found: dict[str, ExtensionValue] = {}
    for name, value in attrs.items():
        if name in CONTEXT_ATTRIBUTES or name in RESERVED_NAMES:
            continue
        if not EXTENSION_NAME.match(name):
            raise ContractError(
                Code.UNKNOWN_FIELD,
                f"{name[:40]}: extension names are 1-20 lower-case letters or digits",
                path=name[:40],
            )
        if isinstance(value, bool):
            found[name] = value
        elif isinstance(value, int):
            if not INT32[0] <= value <= INT32[1]:
                raise ContractError(Code.BAD_VALUE, f"{name}: integer outside 32 bits", path=name)
            found[name] = value
        elif isinstance(value, str):
            if len(value) > MAX_EXTENSION_CHARS:
                raise ContractError(
                    Code.TOO_LONG,
                    f"{name}: longer than {MAX_EXTENSION_CHARS} characters",
                    path=name,
                )
            if _CONTROL.search(value):
                raise ContractError(Code.BAD_VALUE, f"{name}: control characters", path=name)
            found[name] = value
        else:
            raise ContractError(
                Code.WRONG_TYPE,
                f"{name}: extension must be a string, integer or boolean",
                path=name,
            )
    if len(found) > MAX_EXTENSIONS:
        raise ContractError(Code.BAD_VALUE, f"message: more than {MAX_EXTENSIONS} extensions")
    return found


def content_digest(event_type: str, data: BaseModel) -> str:
    """sha256 of canonical JSON of (type, validated data).

    Nulls are left out so an optional field added later to v1 does not change the digest of an
    old message redelivered after the deploy; datetimes are already UTC.
    """
    canonical = json.dumps(
        {"type": event_type, "data": data.model_dump(mode="json", exclude_none=True)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class InboundEvent(Contract):
    """A decoded, validated inbound event. Deduplicate on (source, id); compare content_digest
    to tell an identical re-send from a conflicting one."""

    id: str
    source: str
    type: str
    specversion: str
    subject: str | None
    time: datetime | None
    datacontenttype: str
    dataschema: str | None
    extensions: dict[str, ExtensionValue]
    data: RequestSubmittedV1
    content_digest: str

    def to_structured(self) -> dict[str, Any]:
        """The event in structured mode, whatever binding or mode it arrived in: the one shape
        the inbox stores and its workers re-decode."""
        envelope: dict[str, Any] = {
            "specversion": self.specversion, "id": self.id, "source": self.source,
            "type": self.type, "datacontenttype": "application/json",
            "data": json.loads(self.data.model_dump_json()),
        }
        if self.subject:
            envelope["subject"] = self.subject
        if self.dataschema:
            envelope["dataschema"] = self.dataschema
        if self.time:
            envelope["time"] = self.time.isoformat()
        envelope.update(self.extensions)
        return envelope
