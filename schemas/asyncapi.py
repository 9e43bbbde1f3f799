"""The AsyncAPI 3.0 document of ResetDesk's messages, generated from the contract models.

One document for both directions, written from the side of whoever sends: form producers
*send* requests to the requests exchange (or `POST /events`), ResetDesk *sends* its events to the
events exchange. Payloads are the JSON Schemas that export.py builds from the pydantic models,
moved into `components/schemas` (AsyncAPI's Schema Object is JSON Schema draft-07, so `$defs`
become components and `$ref`s point at them). Regenerate with `python -m schemas.asyncapi`;
`--check` only reports whether docs/asyncapi.json is current.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

from schemas.envelope import JSON_MEDIA_TYPE, STRUCTURED_MEDIA_TYPE
from schemas.events_v1 import EVENT_TYPES, SEQUENCE_DIGITS, SOURCE
from schemas.export import envelope_schema
from schemas.registry import INBOUND_TYPES
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from schemas.sample import sample_request

DOCUMENT: Final = Path(__file__).resolve().parents[1] / "docs" / "asyncapi.json"
REQUESTS_EXCHANGE: Final = "resetdesk.requests"  # same value as schemas.client, which needs pika
EVENTS_EXCHANGE: Final = "resetdesk.events"
VERSION: Final = "1.0.0"
_PREFIX: Final = "com.resetdesk."
_AMQP_BINDING: Final = "0.3.0"
_HTTP_BINDING: Final = "0.3.0"
_EXAMPLE_ID: Final = "6f1c2a9e-2d0b-4a57-9a6e-3c1d8f0b7e21"


def _short(event_type: str) -> str:
    return event_type.removeprefix(_PREFIX)


def _ref(*parts: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)}


def _data_schemas(event_type: str, model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """The data schema and its `$defs`, as components named `<type>` and `<type>.<Def>`."""
    schema = model.model_json_schema(mode="validation")
    defs: dict[str, Any] = schema.pop("$defs", {})

    def relink(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (
                    _ref("components", "schemas", f"{event_type}.{v.removeprefix('#/$defs/')}")["$ref"]
                    if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/")
                    else relink(v)
                )
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [relink(v) for v in node]
        return node

    found = {event_type: relink({**schema, "title": event_type})}
    found.update({f"{event_type}.{name}": relink(d) for name, d in defs.items()})
    return found


def _envelope(event_type: str, *, outgoing: bool) -> dict[str, Any]:
    """Structured mode: the CloudEvents envelope with this type's data schema plugged in."""
    schema = copy.deepcopy(envelope_schema())
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    props = schema["properties"]
    props["type"] = {"type": "string", "const": event_type}
    props["data"] = _ref("components", "schemas", event_type)
    schema["title"] = f"{event_type} (structured mode)"
    if outgoing:
        props["source"] = {"type": "string", "const": SOURCE}
        props["subject"] = {**_not_null(props["subject"]), "description": "The ticket id."}
        props["time"] = _not_null(props["time"])
        props["sequence"] = {
            "type": "string",
            "pattern": f"^[0-9]{{{SEQUENCE_DIGITS}}}$",
            "description": "CloudEvents sequence extension: the per-ticket event counter, "
            "zero-padded so that string order is numeric order.",
        }
        schema["required"] = [*schema["required"], "subject", "time", "sequence"]
    return schema


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = [s for s in schema.get("anyOf", []) if s != {"type": "null"}]
    return dict(options[0]) if len(options) == 1 else {k: v for k, v in schema.items() if k != "default"}


def _binary_headers(event_type: str) -> dict[str, Any]:
    """Binary mode: context attributes as `ce-*` headers, data alone in the body."""
    attributes = envelope_schema()["properties"]
    props = {
        f"ce-{name}": _not_null(schema)
        for name, schema in attributes.items()
        if name not in ("data", "datacontenttype")
    }
    props["ce-type"] = {"type": "string", "const": event_type}
    return {
        "type": "object",
        "title": f"{event_type} (binary mode headers)",
        "description": "CloudEvents attributes as headers; extensions as ce-<name>. Over AMQP the "
        "values are not percent-encoded and ce-time may be an AMQP timestamp; over HTTP they are "
        "percent-encoded as the CloudEvents HTTP binding says. Content type goes in content_type "
        "(AMQP) / Content-Type (HTTP), never in a ce- header.",
        "required": ["ce-specversion", "ce-id", "ce-source", "ce-type"],
        "properties": props,
    }


def _request_messages(event_type: str) -> dict[str, dict[str, Any]]:
    example = sample_request(id=_EXAMPLE_ID)
    example["type"] = event_type
    data = example.pop("data")
    example.pop("datacontenttype", None)
    short = _short(event_type)
    return {
        f"{short}.structured": {
            "name": f"{short}.structured",
            "title": f"{event_type}, structured mode",
            "contentType": STRUCTURED_MEDIA_TYPE,
            "payload": _ref("components", "schemas", f"{event_type}.envelope"),
            "examples": [{"name": "sample", "payload": {**example, "data": data}}]
            if event_type == REQUEST_SUBMITTED_V1
            else [],
        },
        f"{short}.binary": {
            "name": f"{short}.binary",
            "title": f"{event_type}, binary mode",
            "contentType": JSON_MEDIA_TYPE,
            "headers": _ref("components", "schemas", f"{event_type}.headers"),
            "payload": _ref("components", "schemas", event_type),
        },
    }


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
            "security": [_ref("components", "securitySchemes", "amqpUser")],
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
            "security": [_ref("components", "securitySchemes", "bearerToken")],
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
        short = _short(event_type)
        schemas.update(_data_schemas(event_type, request_model))
        schemas[f"{event_type}.envelope"] = _envelope(event_type, outgoing=False)
        schemas[f"{event_type}.headers"] = _binary_headers(event_type)
        found = _request_messages(event_type)
        messages.update(found)
        channel_id = f"requests.{short}"
        channels[channel_id] = {
            "address": event_type,
            "title": f"{REQUESTS_EXCHANGE} exchange, routing key {event_type}",
            "description": "No alternate exchange: a key nobody is bound to comes back to a "
            "mandatory publisher as unroutable.",
            "servers": [_ref("servers", "production")],
            "messages": {name: _ref("components", "messages", name) for name in found},
            "bindings": _amqp_channel(REQUESTS_EXCHANGE),
        }
        operations[f"send.{short}"] = {
            "action": "send",
            "channel": _ref("channels", channel_id),
            "title": f"A form producer publishes {event_type}",
            "description": "Publish with confirms, mandatory, persistent, message_id = event id, "
            "user_id = the connection's user. The Python client is schemas.client.RequestPublisher; "
            "see docs/producers.md.",
            "messages": [_ref("channels", channel_id, "messages", name) for name in found],
            "bindings": {
                "amqp": {"deliveryMode": 2, "mandatory": True, "bindingVersion": _AMQP_BINDING}
            },
        }
        http_messages.update({name: _ref("components", "messages", name) for name in found})

    channels["http.events"] = {
        "address": "/events",
        "title": "POST /events",
        "description": "CloudEvents HTTP binding, structured or binary mode, one event per request.",
        "servers": [_ref("servers", "embedded")],
        "messages": http_messages,
    }
    operations["post.events"] = {
        "action": "send",
        "channel": _ref("channels", "http.events"),
        "title": "A producer posts a request over HTTP",
        "messages": [_ref("channels", "http.events", "messages", name) for name in http_messages],
        "bindings": {"http": {"method": "POST", "bindingVersion": _HTTP_BINDING}},
    }

    for event_type, event_model in sorted(EVENT_TYPES.items()):
        short = _short(event_type)
        schemas.update(_data_schemas(event_type, event_model))
        schemas[f"{event_type}.envelope"] = _envelope(event_type, outgoing=True)
        messages[short] = {
            "name": short,
            "title": event_type,
            "contentType": STRUCTURED_MEDIA_TYPE,
            "payload": _ref("components", "schemas", f"{event_type}.envelope"),
        }
        channel_id = f"events.{short}"
        channels[channel_id] = {
            "address": event_type,
            "title": f"{EVENTS_EXCHANGE} exchange, routing key {event_type}",
            "servers": [_ref("servers", "production")],
            "messages": {short: _ref("components", "messages", short)},
            "bindings": _amqp_channel(EVENTS_EXCHANGE),
        }
        operations[f"publish.{short}"] = {
            "action": "send",
            "channel": _ref("channels", channel_id),
            "title": f"ResetDesk publishes {event_type}",
            "description": "Relayed from the outbox with confirms; at least once, so consumers "
            "deduplicate on (source, id) and order per ticket by the sequence extension.",
            "messages": [_ref("channels", channel_id, "messages", short)],
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
            "is docs/contract.md, the producers' guide docs/producers.md.",
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
