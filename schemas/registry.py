"""Decode an inbound message, whatever its binding and mode, into one validated InboundEvent.

Every path ends in the same checks (envelope, type registry, data model) so HTTP and AMQP
producers are held to one contract. Cheap checks come first: size before parsing, headers
before the body, the type before the data, so a wrong message is refused for the right reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote_to_bytes

from pydantic import ValidationError

from schemas.envelope import (
    CONTEXT_ATTRIBUTES,
    JSON_MEDIA_TYPE,
    RESERVED_NAMES,
    SPECVERSION,
    STRUCTURED_MEDIA_TYPE,
    Envelope,
    InboundEvent,
    check_extensions,
    content_digest,
)
from schemas.errors import Code, ContractError, from_validation_error
from schemas.jsonstrict import check_size, decode_utf8, loads_object
from schemas.requests_v1 import REQUEST_SUBMITTED_V1, RequestSubmittedV1

INBOUND_TYPES: Final[dict[str, type[RequestSubmittedV1]]] = {
    REQUEST_SUBMITTED_V1: RequestSubmittedV1,
}
"""CloudEvents `type` → data model. A new version is a new entry, served in parallel."""

MAX_HEADER_BYTES: Final = 64 * 1024
RESERVED_HEADER_PREFIX: Final = "x-resetdesk-"
"""ResetDesk's own transport headers (replay, dead-letter reason …): never a producer's."""
_VERSIONED = re.compile(r"^(?P<family>.+)\.v(?P<version>[0-9]+)$")
_HTTP_PREFIXES: Final = ("ce-",)
_AMQP_PREFIXES: Final = ("ce-", "cloudevents_", "cloudevents:")
_MISSING: Final = object()


def _family(event_type: str) -> str:
    match = _VERSIONED.match(event_type)
    return match["family"] if match else event_type


def data_model_for(event_type: str) -> type[RequestSubmittedV1]:
    """The data model of a known type; unknown_version when only the version is new."""
    model = INBOUND_TYPES.get(event_type)
    if model is not None:
        return model
    family = _family(event_type)
    versions = sorted(t for t in INBOUND_TYPES if _family(t) == family)
    if versions:
        supported = ", ".join(versions)
        raise ContractError(
            Code.UNKNOWN_VERSION,
            f"type: {event_type} is not a supported version; supported: {supported}",
            path="type",
        )
    known = ", ".join(sorted(INBOUND_TYPES))
    raise ContractError(
        Code.UNKNOWN_TYPE,
        f"type: {event_type[:128]!r} is not accepted; known: {known}",
        path="type",
    )


def _media_type(value: str) -> tuple[str, dict[str, str]]:
    main, *params = value.split(";")
    parsed: dict[str, str] = {}
    for param in params:
        key, _, val = param.partition("=")
        parsed[key.strip().lower()] = val.strip().strip('"').lower()
    return main.strip().lower(), parsed


def _json_content_type(value: object, field: str) -> str:
    """Only application/json (optionally charset=utf-8) is a data content type we read."""
    if not isinstance(value, str):
        raise ContractError(Code.WRONG_TYPE, f"{field}: must be a string", path=field)
    media, params = _media_type(value)
    if media != JSON_MEDIA_TYPE or any(k != "charset" or v != "utf-8" for k, v in params.items()):
        raise ContractError(
            Code.UNSUPPORTED_CONTENT_TYPE,
            f"{field}: {value[:80]!r} is not supported; data must be application/json",
            path=field,
        )
    return JSON_MEDIA_TYPE


def _required_str(attrs: Mapping[str, object], name: str) -> str:
    if name not in attrs:
        raise ContractError(Code.MISSING_FIELD, f"{name}: field is required", path=name)
    value = attrs[name]
    if not isinstance(value, str):
        raise ContractError(Code.WRONG_TYPE, f"{name}: must be a string", path=name)
    return value


def _check_envelope(
    attrs: dict[str, object],
) -> tuple[Envelope, type[RequestSubmittedV1], dict[str, Any]]:
    specversion = _required_str(attrs, "specversion")
    if specversion != SPECVERSION:
        raise ContractError(
            Code.BAD_SPECVERSION,
            f"specversion: {specversion[:20]!r} is not supported; use {SPECVERSION!r}",
            path="specversion",
        )
    model = data_model_for(_required_str(attrs, "type"))
    known = {k: v for k, v in attrs.items() if k in CONTEXT_ATTRIBUTES}
    if "datacontenttype" in known:
        known["datacontenttype"] = _json_content_type(known["datacontenttype"], "datacontenttype")
    extensions = check_extensions(attrs)
    try:
        envelope = Envelope.model_validate(known)
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    return envelope, model, extensions


def _finish(
    envelope: Envelope,
    model: type[RequestSubmittedV1],
    extensions: dict[str, Any],
    data: object,
) -> InboundEvent:
    if not isinstance(data, dict):
        raise ContractError(Code.WRONG_TYPE, "data: must be a JSON object", path="data")
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, prefix="data") from None
    return InboundEvent(
        id=envelope.id,
        source=envelope.source,
        type=envelope.type,
        specversion=envelope.specversion,
        subject=envelope.subject,
        time=envelope.time,
        datacontenttype=envelope.datacontenttype,
        dataschema=envelope.dataschema,
        extensions=extensions,
        data=validated,
        content_digest=content_digest(envelope.type, validated),
    )


def decode_structured(body: bytes) -> InboundEvent:
    """Structured mode: the whole event is one JSON object (application/cloudevents+json)."""
    attrs: dict[str, object] = loads_object(body)
    if "data_base64" in attrs:
        raise ContractError(
            Code.UNSUPPORTED_CONTENT_TYPE,
            "data_base64: binary data is not accepted; send data as a JSON object",
            path="data_base64",
        )
    data = attrs.pop("data", _MISSING)
    envelope, model, extensions = _check_envelope(attrs)
    if data is _MISSING:
        raise ContractError(Code.MISSING_FIELD, "data: field is required", path="data")
    return _finish(envelope, model, extensions, data)


def check_header_size(headers: Mapping[str, object]) -> None:
    """All headers together, whatever their names and the mode: at most 64 KiB."""
    total = sum(len(str(k)) + len(str(v)) for k, v in headers.items())
    if total > MAX_HEADER_BYTES:
        raise ContractError(Code.OVERSIZE, f"headers: {total} bytes, limit {MAX_HEADER_BYTES}")


def check_no_reserved_headers(
    headers: Mapping[str, object], prefixes: tuple[str, ...] = (RESERVED_HEADER_PREFIX,)
) -> None:
    """A producer may not set ResetDesk's own ``x-resetdesk-*`` headers (e.g. claim a replay);
    the pika client also keeps ``ce-*`` for the event's attributes."""
    for name in headers:
        lowered = str(name).lower()
        if lowered.startswith(prefixes):
            raise ContractError(
                Code.RESERVED_HEADER,
                f"{str(name)[:60]}: headers starting with {', '.join(prefixes)} are reserved",
                path=lowered[:60],
            )


def _collect(
    headers: Mapping[str, object], prefixes: tuple[str, ...], percent_decode: bool
) -> tuple[dict[str, object], object]:
    """Pull CE attributes out of transport headers; returns (attributes, content-type header)."""
    check_header_size(headers)
    attrs: dict[str, object] = {}
    content_type: object = None
    for raw_name, raw_value in headers.items():
        name = raw_name.lower()
        if name == "content-type":
            content_type = raw_value
            continue
        prefix = next((p for p in prefixes if name.startswith(p)), None)
        if prefix is None:
            continue
        attr = name[len(prefix) :]
        where = raw_name[:60]
        if attr in attrs:
            raise ContractError(Code.DUPLICATE_KEY, f"{where}: attribute {attr!r} given twice")
        if attr in RESERVED_NAMES or attr == "datacontenttype":
            raise ContractError(
                Code.UNKNOWN_FIELD, f"{where}: not allowed as a header in binary mode", path=attr
            )
        value: object = raw_value
        if isinstance(value, bytes | bytearray):
            value = decode_utf8(bytes(value), where)
        if percent_decode and isinstance(value, str):
            value = decode_utf8(unquote_to_bytes(value), where)
        if attr == "time" and isinstance(value, datetime):
            value = value if value.tzinfo else value.replace(tzinfo=UTC)
        elif attr == "time" and isinstance(value, int) and not isinstance(value, bool):
            value = datetime.fromtimestamp(value / 1000, tz=UTC)  # AMQP 1.0 timestamp, ms
        attrs[attr] = value
    return attrs, content_type


def _decode_binary(attrs: dict[str, object], content_type: object, body: bytes) -> InboundEvent:
    check_size(body)
    if content_type is not None:  # absent: the strict JSON parse below decides
        attrs["datacontenttype"] = content_type
    envelope, model, extensions = _check_envelope(attrs)
    if not body:
        raise ContractError(Code.MISSING_FIELD, "data: body is empty", path="data")
    return _finish(envelope, model, extensions, loads_object(body, prefix="data"))


def decode_binary(headers: Mapping[str, str], body: bytes) -> InboundEvent:
    """HTTP binary mode: attributes in `ce-*` headers (percent-encoded), data in the body."""
    attrs, content_type = _collect(headers, _HTTP_PREFIXES, percent_decode=True)
    return _decode_binary(attrs, content_type, body)


def _is_structured(content_type: object) -> bool:
    if not isinstance(content_type, str):
        return False
    media, _ = _media_type(content_type)
    if not media.startswith("application/cloudevents"):
        return False
    if media != STRUCTURED_MEDIA_TYPE:
        raise ContractError(
            Code.UNSUPPORTED_CONTENT_TYPE,
            f"content-type: {media[:80]!r} is not supported; send one event as "
            f"{STRUCTURED_MEDIA_TYPE} or use binary mode",
        )
    return True


def decode(headers: Mapping[str, str], body: bytes) -> InboundEvent:
    """HTTP: structured when Content-Type is application/cloudevents+json, else binary. The
    header limits hold in both modes: 64 KiB in all, and no reserved ``x-resetdesk-*`` name."""
    check_header_size(headers)
    check_no_reserved_headers(headers)
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if _is_structured(content_type):
        return decode_structured(body)
    return decode_binary(headers, body)


def decode_amqp(headers: Mapping[str, object] | None, body: bytes, content_type: str | None) -> InboundEvent:
    """AMQP 0-9-1 (RabbitMQ binding): structured by content_type, else binary.

    Binary attributes come from `ce-*` headers as the SDK's rabbitmq binding writes them (not
    percent-encoded); the AMQP 1.0 names `cloudEvents_*` / `cloudEvents:*` are accepted too, with
    `time` as an RFC 3339 string, an AMQP timestamp, or integer milliseconds.
    """
    if _is_structured(content_type):
        return decode_structured(body)
    attrs, _ = _collect(headers or {}, _AMQP_PREFIXES, percent_decode=False)
    return _decode_binary(attrs, content_type, body)
