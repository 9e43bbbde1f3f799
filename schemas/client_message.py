"""The request as an AMQP message: checked with the decoder ResetDesk runs, in either content
mode of the CloudEvents RabbitMQ binding, before anything is sent (part of the producers'
client, :mod:`schemas.client`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal, NamedTuple

from schemas.envelope import JSON_MEDIA_TYPE, STRUCTURED_MEDIA_TYPE
from schemas.registry import (
    RESERVED_HEADER_PREFIX,
    check_header_size,
    check_no_reserved_headers,
    decode_structured,
)

CE_PREFIX: Final = "ce-"
"""Binary-mode header prefix, as the CloudEvents SDK's RabbitMQ binding writes it."""
Mode = Literal["structured", "binary"]


class RequestMessage(NamedTuple):
    routing_key: str
    event_id: str
    body: bytes
    properties_kw: dict[str, Any]


def render_request(event: Mapping[str, Any], mode: Mode,
                   extra_headers: Mapping[str, Any] | None = None) -> RequestMessage:
    """Validate with the same decoder ResetDesk runs, then build the AMQP message. Raises
    ContractError (``reserved_header`` for an ``x-resetdesk-*`` or ``ce-*`` header)."""
    if mode not in ("structured", "binary"):
        raise ValueError(f"mode must be 'structured' or 'binary', not {mode!r}")
    event = dict(event)
    structured = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    decoded = decode_structured(structured)
    headers: dict[str, Any] = dict(extra_headers or {})  # the producer's own (tracing …)
    check_no_reserved_headers(headers, (RESERVED_HEADER_PREFIX, CE_PREFIX))
    if mode == "structured":
        check_header_size(headers)
        properties: dict[str, Any] = {"content_type": STRUCTURED_MEDIA_TYPE}
        if headers:
            properties["headers"] = headers
        return RequestMessage(decoded.type, decoded.id, structured, properties)
    for name, value in event.items():
        if name in ("data", "datacontenttype") or value is None:
            continue
        # the SDK binding writes every attribute as a string; an integer or boolean extension
        # keeps its AMQP type here so that it decodes to the same event as in structured mode
        headers[CE_PREFIX + name] = value if isinstance(value, bool | int) else str(value)
    check_header_size(headers)
    body = json.dumps(event["data"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    content_type = str(event.get("datacontenttype") or JSON_MEDIA_TYPE)
    return RequestMessage(decoded.type, decoded.id, body,
                          {"content_type": content_type, "headers": headers})
