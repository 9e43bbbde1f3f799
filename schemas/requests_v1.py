"""`com.resetdesk.request.submitted.v1`: the data of a device password-reset request.

It mirrors the reset form field for field. The contract checks shape, formats and limits only;
whether the request is acceptable (attestations true, country served, serial plausible) is a
business decision the workflow rules make later, so a false attestation is valid here.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import ConfigDict, Field, JsonValue, field_validator, model_validator
from pydantic_core import PydanticCustomError

from schemas.types import (
    ONE_LINE_PATTERN,
    Contract,
    Country,
    Email,
    IsoDate,
    MultiLine,
    OneLine,
    Phone,
    TextRule,
    Timestamp,
    TimeZone,
)

REQUEST_SUBMITTED_V1: Final = "com.resetdesk.request.submitted.v1"

MAX_EXPORT_BYTES: Final = 1024 * 1024
"""Decoded size limit of an export attachment (1 MiB)."""
MAX_EXPORT_BASE64_CHARS: Final = 4 * -(-MAX_EXPORT_BYTES // 3)

Language = Literal["en", "fr"]
CustomerType = Literal["distributor", "installer", "reseller", "retailer", "end_user"]
DeviceKind = Literal["dvr", "nvr", "ip_camera", "kit", "other"]
ResetMethod = Literal["local_gui", "sadp", "ivms4200"]
ExportKind = Literal["xml", "qr_photo"]
ExportMediaType = Literal["application/xml", "text/xml", "image/png", "image/jpeg"]

MEDIA_TYPES_BY_KIND: Final[dict[str, frozenset[str]]] = {
    "xml": frozenset({"application/xml", "text/xml"}),
    "qr_photo": frozenset({"image/png", "image/jpeg"}),
}
_PRODUCT_CODE = r"^[A-Za-z0-9][A-Za-z0-9/()+._-]*$"
_SADP_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$")
_TOKEN = r"^[\x21-\x7e]+$"


class Requester(Contract):
    """Who asks for the reset; `company` may be absent for an end user."""

    name: Annotated[str, Field(min_length=1, max_length=120), OneLine]
    email: Email
    phone: Phone
    company: Annotated[str, Field(min_length=1, max_length=120), OneLine] | None = None
    country: Country
    language: Language
    customer_type: CustomerType
    purchased_from: Annotated[str, Field(min_length=1, max_length=200), OneLine]
    time_zone: Annotated[TimeZone | None, Field(
        description="Optional (added compatibly to v1): the customer's IANA time zone, e.g. "
        "America/Toronto; emails and pages then give times in it as well as in Pacific time. "
        "A server older than this field refuses it as unknown.")] = None


class Device(Contract):
    """The locked device, as the customer reads it from the label and from SADP."""

    model_number: Annotated[str, Field(min_length=3, max_length=64, pattern=_PRODUCT_CODE)]
    serial_number: Annotated[str, Field(min_length=9, max_length=128, pattern=_PRODUCT_CODE)]
    firmware_version: Annotated[str, Field(min_length=1, max_length=64), OneLine]
    kind: DeviceKind
    current_date: IsoDate
    start_time: Annotated[
        str,
        Field(
            min_length=19,
            max_length=19,
            description="Device-local start time exactly as SADP shows it: YYYY-MM-DD HH:MM:SS "
            "(no zone: the device clock's zone is unknown).",
            json_schema_extra={"pattern": _SADP_TIME.pattern},
        ),
    ]

    @field_validator("start_time")
    @classmethod
    def _sadp_time(cls, value: str) -> str:
        if not _SADP_TIME.fullmatch(value):
            raise PydanticCustomError("bad_value", "value is not a SADP time YYYY-MM-DD HH:MM:SS")
        try:
            datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
        except ValueError as exc:
            raise PydanticCustomError("bad_value", "value is not a real date and time") from exc
        return value


_MEDIA_TYPE_PER_KIND: Final[list[JsonValue]] = [
    {"if": {"properties": {"kind": {"const": kind}}},
     "then": {"properties": {"media_type": {"enum": list(sorted(types))}}}}
    for kind, types in sorted(MEDIA_TYPES_BY_KIND.items())]
"""The server's media type per kind, as JSON Schema says it."""


def _bare_name(value: str) -> str:
    value = OneLine.check(value)
    if "/" in value or "\\" in value or value in {".", ".."}:
        raise PydanticCustomError("bad_value", "filename must not contain a path")
    return value


BareName = TextRule(_bare_name, "^(?!\\.\\.?$)" + ONE_LINE_PATTERN[1:].replace("[^", "[^/\\\\"))
"""A file name without a path: one line, no ``/`` or ``\\``, not ``.`` or ``..``."""
_BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def _looks_like(media_type: str, content: bytes) -> bool:
    if media_type == "image/png":
        return content.startswith(b"\x89PNG\r\n\x1a\n")
    if media_type == "image/jpeg":
        return content.startswith(b"\xff\xd8\xff")
    head = content.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    return head.startswith(b"<")


class Export(Contract):
    """A file the device exported (SADP XML or a photo of the QR code), base64 in the JSON."""

    model_config = ConfigDict(json_schema_extra={"allOf": _MEDIA_TYPE_PER_KIND})

    kind: ExportKind
    media_type: ExportMediaType
    filename: Annotated[str, Field(min_length=1, max_length=255), BareName]
    content_base64: Annotated[
        str,
        Field(
            min_length=4,
            repr=False,
            json_schema_extra={"maxLength": MAX_EXPORT_BASE64_CHARS, "contentEncoding": "base64",
                               "pattern": _BASE64},
        ),
    ]

    @field_validator("content_base64")
    @classmethod
    def _decodes(cls, value: str) -> str:
        if len(value) > MAX_EXPORT_BASE64_CHARS:
            raise PydanticCustomError(
                "oversize", "export is larger than {limit} bytes", {"limit": MAX_EXPORT_BYTES}
            )
        content = _b64(value)
        if len(content) > MAX_EXPORT_BYTES:
            raise PydanticCustomError(
                "oversize", "export is larger than {limit} bytes", {"limit": MAX_EXPORT_BYTES}
            )
        return value

    @model_validator(mode="after")
    def _content_matches_type(self) -> Export:
        if self.media_type not in MEDIA_TYPES_BY_KIND[self.kind]:
            allowed = " or ".join(sorted(MEDIA_TYPES_BY_KIND[self.kind]))
            raise PydanticCustomError(
                "bad_value",
                "media_type {media_type} does not fit kind {kind} (use {allowed})",
                {"media_type": self.media_type, "kind": self.kind, "allowed": allowed},
            )
        if not _looks_like(self.media_type, self.content()):
            raise PydanticCustomError(
                "bad_magic",
                "content_base64 does not start like {media_type} (magic bytes differ)",
                {"media_type": self.media_type},
            )
        return self

    def content(self) -> bytes:
        """The decoded file, for the caller to store as an attachment."""
        return _b64(self.content_base64)


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PydanticCustomError(
            "bad_base64", "value is not standard padded base64 (RFC 4648 section 4)"
        ) from exc


class Attestation(Contract):
    """What the requester declared; false values are valid here and rejected by the rules."""

    authorised_and_responsible: bool
    on_site_or_network: bool
    terms_version: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    accepted_at: Timestamp


class RequestSubmittedV1(Contract):
    """The `data` of `com.resetdesk.request.submitted.v1`."""

    requester: Requester
    device: Device
    reset_method: ResetMethod
    export: Export | None = None
    attestation: Attestation

    @field_validator("reset_method", mode="before")
    @classmethod
    def _no_alias(cls, value: object) -> object:
        if value == "local_monitor":
            raise PydanticCustomError(
                "bad_enum", "'local_monitor' is not accepted: the local monitor method is 'local_gui'"
            )
        return value

    human_check_token: Annotated[str, Field(min_length=1, max_length=4096, pattern=_TOKEN, repr=False)]
    note: Annotated[str, Field(max_length=2000), MultiLine] | None = None
