"""Screening a message's header table before anything walks it recursively.

py-amqp hands over whatever table one frame can carry: arrays nested ~26,000 deep, or a 100 KiB
string. A handler, a log line, the JSON of the dead-letter archive and py-amqp's own encoder (when a
copy is republished) all walk tables recursively, so a header table is measured here with an
explicit stack (no recursion, safe on any thread) and the offending headers are taken out: the
message is dead-lettered (``invalid``) with what is left and a note of what was removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

#: our own note on a screened copy: which headers were removed and why
REMOVED_HEADER: Final = "x-resetdesk-removed-headers"
#: deepest nesting one header may have (``x-death``, the deepest header RabbitMQ writes, is 3)
MAX_HEADER_DEPTH: Final = 16
#: largest header table accepted, as encoded on the wire (estimated)
MAX_HEADER_BYTES: Final = 64 * 1024
_MAX_NOTE: Final = 1000


def measure(value: Any) -> tuple[int, int]:
    """(nesting depth, encoded size in bytes, estimated) of one AMQP table value; a scalar is 0 deep."""
    depth = size = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, Mapping):
            depth = max(depth, level + 1)
            size += 5
            for key, child in node.items():
                size += 1 + len(_name(key))
                stack.append((child, level + 1))
        elif isinstance(node, list | tuple):
            depth = max(depth, level + 1)
            size += 5
            stack.extend((child, level + 1) for child in node)
        elif isinstance(node, str):
            size += 5 + len(node.encode("utf-8", "surrogatepass"))
        elif isinstance(node, bytes | bytearray | memoryview):
            size += 5 + len(node)
        elif isinstance(node, datetime | int | float):
            size += 9
        else:  # bool, None, Decimal
            size += 6
    return depth, size


def _name(key: Any) -> str:
    if isinstance(key, bytes | bytearray):
        return bytes(key).decode("utf-8", "replace")
    return str(key)


@dataclass(frozen=True)
class Screened:
    """A header table with its poison taken out."""

    #: what is safe to walk, pass on and republish (with the note header when something was removed)
    headers: dict[str, Any]
    #: why the table was refused ("" when it was fine)
    problem: str = ""


def screen(headers: Mapping[Any, Any] | None, *, max_depth: int = MAX_HEADER_DEPTH,
           max_bytes: int = MAX_HEADER_BYTES) -> Screened:
    """Headers nested deeper than ``max_depth`` are removed; then, while the table is over
    ``max_bytes``, the largest header is removed. Never raises on what py-amqp can decode."""
    kept: dict[str, Any] = {}
    sizes: dict[str, int] = {}
    notes: list[str] = []
    for key, value in (headers or {}).items():
        name = _name(key)
        depth, size = measure(value)
        if depth > max_depth:
            notes.append(f"header {name[:64]!r} nested {depth} deep (limit {max_depth})")
            continue
        kept[name] = value
        sizes[name] = size + 1 + len(name)
    total = sum(sizes.values())
    if total > max_bytes:
        notes.append(f"headers are {total} bytes (limit {max_bytes})")
        for name in sorted(sizes, key=sizes.__getitem__, reverse=True):
            if total <= max_bytes:
                break
            total -= sizes[name]
            del kept[name]
            notes.append(f"header {name[:64]!r} removed ({sizes[name]} bytes)")
    if not notes:
        return Screened(kept)
    problem = "; ".join(notes)
    kept[REMOVED_HEADER] = problem[:_MAX_NOTE]
    return Screened(kept, problem[:_MAX_NOTE])
