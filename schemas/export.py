"""Write the JSON Schema of every contract to schemas/jsonschema/, deterministically.

Producers in other languages validate against these files; the committed copies are part of
the contract, so a test fails when they differ from what the models say. Regenerate with
`python -m schemas.export`; `--check` only reports.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

from schemas.envelope import EXTENSION_NAME, MAX_EXTENSION_CHARS, MAX_EXTENSIONS, Envelope
from schemas.events_v1 import EVENT_TYPES
from schemas.registry import INBOUND_TYPES

SCHEMA_DIR: Final = Path(__file__).parent / "jsonschema"
DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


def schema_id(name: str) -> str:
    """The URI a schema file names itself by; usable as a CloudEvents `dataschema`."""
    return f"urn:resetdesk:schema:{name}"


def _data_schema(event_type: str, model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    schema.update({"$schema": DIALECT, "$id": schema_id(event_type), "title": event_type})
    return schema


def envelope_schema() -> dict[str, Any]:
    """The structured-mode envelope: known attributes, `data`, bounded extensions."""
    schema = Envelope.model_json_schema(mode="validation")
    schema["properties"]["data"] = {"type": "object", "description": "See the type's schema."}
    schema["required"] = [*schema["required"], "data"]
    schema.pop("additionalProperties", None)
    schema.update(
        {
            "$schema": DIALECT,
            "$id": schema_id("cloudevents-envelope"),
            "title": "ResetDesk CloudEvents 1.0 envelope (structured mode)",
            "propertyNames": {"pattern": EXTENSION_NAME.pattern},
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "maxLength": MAX_EXTENSION_CHARS},
                    {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1},
                    {"type": "boolean"},
                ]
            },
            "maxProperties": len(schema["properties"]) + MAX_EXTENSIONS,
        }
    )
    return schema


def render() -> dict[str, str]:
    """File name → exact file text, for every contract."""
    schemas: dict[str, dict[str, Any]] = {"cloudevents-envelope": envelope_schema()}
    for event_type, model in {**INBOUND_TYPES, **EVENT_TYPES}.items():
        schemas[event_type] = _data_schema(event_type, model)
    return {
        f"{name}.json": json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, schema in sorted(schemas.items())
    }


def stale(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of files that are missing, different, or no longer generated."""
    wanted = render()
    present = {p.name for p in directory.glob("*.json")}
    differs = [
        name
        for name, text in wanted.items()
        if name not in present or (directory / name).read_text(encoding="utf-8") != text
    ]
    return sorted(differs + [name for name in present if name not in wanted])


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    """Bring `directory` up to date; returns the names it changed or removed."""
    changed = stale(directory)
    wanted = render()
    directory.mkdir(parents=True, exist_ok=True)
    for name in changed:
        if name in wanted:
            (directory / name).write_text(wanted[name], encoding="utf-8", newline="\n")
        else:
            (directory / name).unlink()
    return changed


def main(argv: list[str]) -> int:
    if "--check" in argv:
        names = stale()
        for name in names:
            print(f"stale: {SCHEMA_DIR / name}")
        return 1 if names else 0
    for name in write():
        print(f"wrote: {SCHEMA_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
