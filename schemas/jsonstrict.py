"""JSON parsing that refuses what Python's `json` quietly accepts.

`json.loads` takes NaN/Infinity, turns 1e999 into inf, keeps the last of duplicate keys and lets
"\\u0000" through; each of those has let a crafted message mean two things to two readers. The
size is checked before any parsing so a huge body costs nothing.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from schemas.errors import Code, ContractError

MAX_BODY_BYTES: Final = 2 * 1024 * 1024
"""Largest accepted message body (2 MiB), checked before parsing."""
MAX_DEPTH: Final = 32
MAX_INT_DIGITS: Final = 19


class _BadNumber:
    """Stands in for a number JSON must not carry, so the tree walk can report its path."""

    def __init__(self, text: str) -> None:
        self.text = text[:24]


def _constant(text: str) -> _BadNumber:
    return _BadNumber(text)


def _float(text: str) -> float | _BadNumber:
    value = float(text)
    return value if math.isfinite(value) else _BadNumber(text)


def _int(text: str) -> int | _BadNumber:
    return _BadNumber(text) if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


class _Duplicated(dict[str, Any]):
    """An object that repeated a key; the walk reports it with its path."""

    duplicate = ""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            flagged = _Duplicated(result)
            flagged.duplicate = key[:40]
            return flagged
        result[key] = value
    return result


def check_size(body: bytes, limit: int = MAX_BODY_BYTES) -> None:
    """Refuse a body over `limit` bytes before anything looks inside it."""
    if len(body) > limit:
        raise ContractError(Code.OVERSIZE, f"message: body is {len(body)} bytes, limit {limit}")


def decode_utf8(raw: bytes, what: str = "message") -> str:
    """Strict UTF-8 (no replacement characters); a leading BOM is refused as not JSON."""
    try:
        return raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise ContractError(Code.NOT_UTF8, f"{what}: invalid UTF-8 at byte {exc.start}") from exc


def loads_object(body: bytes, prefix: str = "") -> dict[str, Any]:
    """Parse `body` as one JSON object under every rule above, or raise ContractError.

    `prefix` is the field path of the body within the event ("data" in binary mode).
    """
    what = prefix or "message"
    check_size(body)
    text = decode_utf8(body, what)
    try:
        value = json.loads(
            text,
            parse_constant=_constant,
            parse_float=_float,
            parse_int=_int,
            object_pairs_hook=_object,
        )
    except RecursionError as exc:
        raise ContractError(Code.NOT_JSON, f"{what}: nested too deeply") from exc
    except ValueError as exc:
        raise ContractError(Code.NOT_JSON, f"{what}: not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ContractError(Code.NOT_OBJECT, f"{what}: top level must be a JSON object")
    _check_tree(value, prefix)
    return value


def _check_tree(root: dict[str, Any], prefix: str) -> None:
    """Refuse U+0000 in any key or string, and nesting deeper than MAX_DEPTH."""
    stack: list[tuple[Any, str, int]] = [(root, prefix, 0)]
    while stack:
        node, path, depth = stack.pop()
        where = path or "message"
        if depth > MAX_DEPTH:
            raise ContractError(Code.BAD_VALUE, f"{where}: nested deeper than {MAX_DEPTH}", path=path)
        if isinstance(node, _BadNumber):
            raise ContractError(
                Code.BAD_NUMBER,
                f"{where}: {node.text} is not a finite JSON number of at most {MAX_INT_DIGITS} digits",
                path=path,
            )
        if isinstance(node, str):
            if "\x00" in node:
                raise ContractError(Code.NUL_CHAR, f"{where}: U+0000 is not allowed in strings", path=path)
        elif isinstance(node, dict):
            if isinstance(node, _Duplicated):
                raise ContractError(
                    Code.DUPLICATE_KEY, f"{where}: key {node.duplicate!r} appears twice", path=path
                )
            for key, child in node.items():
                if "\x00" in key:
                    raise ContractError(Code.NUL_CHAR, f"{where}: U+0000 is not allowed in keys", path=path)
                stack.append((child, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(node, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(node))
