"""The AsyncAPI 3.0 document of ResetDesk's messages, generated from the contract models.

One document for both directions, written from the side of whoever sends: form producers
*send* requests to the requests exchange (or `POST /events`), ResetDesk *sends* its events to the
events exchange. Payloads are the JSON Schemas that export.py builds from the pydantic models,
moved into `components/schemas` (AsyncAPI's Schema Object is JSON Schema draft-07, so `$defs`
become components and `$ref`s point at them). Regenerate with `python -m schemas.asyncapi`;
`--check` only reports whether docs/asyncapi.json is current.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from schemas.asyncapi_components import (
    binary_headers,
    data_schemas,
    envelope,
    ref,
    request_messages,
    short_name,
)
from schemas.envelope import STRUCTURED_MEDIA_TYPE
from schemas.events_v1 import EVENT_TYPES
from schemas.registry import INBOUND_TYPES

DOCUMENT: Final = Path(__file__).resolve().parents[1] / "docs" / "asyncapi.json"
REQUESTS_EXCHANGE: Final = "resetdesk.requests"  # same value as schemas.client, which needs pika
EVENTS_EXCHANGE: Final = "resetdesk.events"
VERSION: Final = "1.1.0"
_AMQP_BINDING: Final = "0.3.0"
_HTTP_BINDING: Final = "0.3.0"


def _amqp_channel(exchange: str) -> dict[str, Any]:
    return {
        "amqp": {
            "is": "routingKey",
            "exchange": {"name": exchange, "type": "topic", "durable": True, "autoDelete": False},
            "bindingVersion": _AMQP_BINDING,
        }
    }


def _servers() -> dict[str, Any]:
    return {
        "production": {
            "host": "{host}:{port}",
            "pathname": "{vhost}",
            "protocol": "amqp",
            "protocolVersion": "0-9-1",
            "title": "RabbitMQ (production mode)",
            "description": "Exchanges and queues are declared by ResetDesk's consumers; producers "
            "only publish. Authenticate with your own RabbitMQ user: it must equal the user_id "
            "message property.",
            "variables": {
                "host": {"default": "localhost", "description": "RabbitMQ host"},
                "port": {"default": "5672", "enum": ["5672", "5671"], "description": "5671 is TLS"},
                "vhost": {"default": "/", "description": "virtual host"},
            },
            "security": [ref("components", "securitySchemes", "amqpUser")],
        },
        "embedded": {
            "host": "{host}",
            "protocol": "http",
            "title": "ResetDesk HTTP intake (POST /events)",
            "description": "The console's CloudEvents HTTP endpoint: the only intake in embedded "
            "mode (no broker), an alternative to AMQP in production. 202 once durably recorded; "
            "400 contract error, 401 no/invalid token, 403 token not allowed for this source, "
            "409 same (source, id) with different data, 413 too large, 415 media type.",
            "variables": {"host": {"default": "localhost:8000", "description": "host:port"}},
            "security": [ref("components", "securitySchemes", "bearerToken")],
        },
    }


def render() -> dict[str, Any]:
    """The whole AsyncAPI 3.0.0 document as a dict."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    http_messages: dict[str, Any] = {}

    for event_type, request_model in sorted(INBOUND_TYPES.items()):
        short = short_name(event_type)
        schemas.update(data_schemas(event_type, request_model))
        schemas[f"{event_type}.envelope"] = envelope(event_type, outgoing=False)
        schemas[f"{event_type}.headers"] = binary_headers(event_type)
        found = request_messages(event_type)
        messages.update(found)
        channel_id = f"requests.{short}"
        channels[channel_id] = {
            "address": event_type,
            "title": f"{REQUESTS_EXCHANGE} exchange, routing key {event_type}",
            "description": "No alternate exchange: a key nobody is bound to comes back to a "
            "mandatory publisher as unroutable.",
            "servers": [ref("servers", "production")],
            "messages": {name: ref("components", "messages", name) for name in found},
            "bindings": _amqp_channel(REQUESTS_EXCHANGE),
        }
        operations[f"send.{short}"] = {
            "action": "send",
            "channel": ref("channels", channel_id),
            "title": f"A form producer publishes {event_type}",
            "description": "Publish with confirms, mandatory, persistent, message_id = event id, "
            "user_id = the connection's user. The Python client is schemas.client.RequestPublisher; "
            "see docs/producers.md.",
            "messages": [ref("channels", channel_id, "messages", name) for name in found],
            "bindings": {
                "amqp": {"deliveryMode": 2, "mandatory": True, "bindingVersion": _AMQP_BINDING}
            },
        }
        http_messages.update({name: ref("components", "messages", name) for name in found})

    channels["http.events"] = {
        "address": "/events",
        "title": "POST /events",
        "description": "CloudEvents HTTP binding, structured or binary mode, one event per request.",
        "servers": [ref("servers", "embedded")],
        "messages": http_messages,
    }
    operations["post.events"] = {
        "action": "send",
        "channel": ref("channels", "http.events"),
        "title": "A producer posts a request over HTTP",
        "messages": [ref("channels", "http.events", "messages", name) for name in http_messages],
        "bindings": {"http": {"method": "POST", "bindingVersion": _HTTP_BINDING}},
    }

    for event_type, event_model in sorted(EVENT_TYPES.items()):
        short = short_name(event_type)
        schemas.update(data_schemas(event_type, event_model))
        schemas[f"{event_type}.envelope"] = envelope(event_type, outgoing=True)
        messages[short] = {
            "name": short,
            "title": event_type,
            "contentType": STRUCTURED_MEDIA_TYPE,
            "payload": ref("components", "schemas", f"{event_type}.envelope"),
        }
        channel_id = f"events.{short}"
        channels[channel_id] = {
            "address": event_type,
            "title": f"{EVENTS_EXCHANGE} exchange, routing key {event_type}",
            "servers": [ref("servers", "production")],
            "messages": {short: ref("components", "messages", short)},
            "bindings": _amqp_channel(EVENTS_EXCHANGE),
        }
        operations[f"publish.{short}"] = {
            "action": "send",
            "channel": ref("channels", channel_id),
            "title": f"ResetDesk publishes {event_type}",
            "description": "Relayed from the outbox with confirms; at least once, so consumers "
            "deduplicate on (source, id) and order per ticket by the sequence extension.",
            "messages": [ref("channels", channel_id, "messages", short)],
            "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": _AMQP_BINDING}},
        }

    return {
        "asyncapi": "3.0.0",
        "id": "urn:resetdesk:asyncapi",
        "info": {
            "title": "ResetDesk messages",
            "version": VERSION,
            "description": "Device password-reset requests in (CloudEvents 1.0), ticket events "
            "out. Written from the sender's side: producers send requests, ResetDesk sends "
            "events. Generated from schemas/ by `python -m schemas.asyncapi`; the prose contract "
            "is docs/contract.md, the producers' guide docs/producers.md. 1.1.0 adds the "
            "optional `requester.time_zone` to request.submitted.v1: validation is strict, so a "
            "ResetDesk server (or a producer client validating with schemas/) older than 1.1.0 "
            "refuses a request that carries it (`unknown_field`); send it only to a server that "
            "publishes 1.1.0 or later.",
        },
        "defaultContentType": STRUCTURED_MEDIA_TYPE,
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": {
                "amqpUser": {"type": "userPassword", "description": "Your RabbitMQ user."},
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A producer token issued by ResetDesk, bound to your source.",
                },
            },
        },
    }


def text() -> str:
    """The exact text of docs/asyncapi.json."""
    return json.dumps(render(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    wanted = text()
    current = DOCUMENT.read_text(encoding="utf-8") if DOCUMENT.exists() else None
    if "--check" in argv:
        if current != wanted:
            print(f"stale: {DOCUMENT} (run python -m schemas.asyncapi)")
            return 1
        return 0
    if current != wanted:
        DOCUMENT.write_text(wanted, encoding="utf-8", newline="\n")
        print(f"wrote: {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
