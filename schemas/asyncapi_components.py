"""The message components of the AsyncAPI document (:mod:`schemas.asyncapi`): each event
type's data schema, its structured-mode envelope, its binary-mode headers, and the request
messages with their example."""

from __future__ import annotations

import copy
from typing import Any, Final

from pydantic import BaseModel

from schemas.envelope import JSON_MEDIA_TYPE, STRUCTURED_MEDIA_TYPE
from schemas.events_v1 import SEQUENCE_DIGITS, SOURCE
from schemas.export import envelope_schema
from schemas.requests_v1 import REQUEST_SUBMITTED_V1
from schemas.sample import sample_request

PREFIX: Final = "com.resetdesk."
EXAMPLE_ID: Final = "6f1c2a9e-2d0b-4a57-9a6e-3c1d8f0b7e21"


def short_name(event_type: str) -> str:
    return event_type.removeprefix(PREFIX)


def ref(*parts: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)}


def data_schemas(event_type: str, model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    """The data schema and its `$defs`, as components named `<type>` and `<type>.<Def>`."""
    schema = model.model_json_schema(mode="validation")
    defs: dict[str, Any] = schema.pop("$defs", {})

    def relink(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (
                    ref("components", "schemas", f"{event_type}.{v.removeprefix('#/$defs/')}")["$ref"]
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


def envelope(event_type: str, *, outgoing: bool) -> dict[str, Any]:
    """Structured mode: the CloudEvents envelope with this type's data schema plugged in."""
    schema = copy.deepcopy(envelope_schema())
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    props = schema["properties"]
    props["type"] = {"type": "string", "const": event_type}
    props["data"] = ref("components", "schemas", event_type)
    schema["title"] = f"{event_type} (structured mode)"
    if outgoing:
        props["source"] = {"type": "string", "const": SOURCE}
        props["subject"] = {**not_null(props["subject"]), "description": "The ticket id."}
        props["time"] = not_null(props["time"])
        props["sequence"] = {
            "type": "string",
            "pattern": f"^[0-9]{{{SEQUENCE_DIGITS}}}$",
            "description": "CloudEvents sequence extension: the per-ticket event counter, "
            "zero-padded so that string order is numeric order.",
        }
        schema["required"] = [*schema["required"], "subject", "time", "sequence"]
    return schema


def not_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = [s for s in schema.get("anyOf", []) if s != {"type": "null"}]
    return dict(options[0]) if len(options) == 1 else {k: v for k, v in schema.items() if k != "default"}


def binary_headers(event_type: str) -> dict[str, Any]:
    """Binary mode: context attributes as `ce-*` headers, data alone in the body."""
    attributes = envelope_schema()["properties"]
    props = {
        f"ce-{name}": not_null(schema)
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


def request_messages(event_type: str) -> dict[str, dict[str, Any]]:
    example = sample_request(id=EXAMPLE_ID)
    example["type"] = event_type
    data = example.pop("data")
    example.pop("datacontenttype", None)
    short = short_name(event_type)
    return {
        f"{short}.structured": {
            "name": f"{short}.structured",
            "title": f"{event_type}, structured mode",
            "contentType": STRUCTURED_MEDIA_TYPE,
            "payload": ref("components", "schemas", f"{event_type}.envelope"),
            "examples": [{"name": "sample", "payload": {**example, "data": data}}]
            if event_type == REQUEST_SUBMITTED_V1
            else [],
        },
        f"{short}.binary": {
            "name": f"{short}.binary",
            "title": f"{event_type}, binary mode",
            "contentType": JSON_MEDIA_TYPE,
            "headers": ref("components", "schemas", f"{event_type}.headers"),
            "payload": ref("components", "schemas", event_type),
        },
    }
