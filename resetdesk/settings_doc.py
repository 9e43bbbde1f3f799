"""docs/configuration.md, written from the settings models themselves (``resetdesk docs config``),
so the reference cannot drift from the code: a test compares the file with :func:`render`."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from resetdesk.settings import RENAMED, Settings, env_name

DOCUMENT = Path("docs/configuration.md")

INTRO = """\
# Configuration reference

Every setting is an environment variable (or a line of a `.env` file in the working directory),
read once, at start-up, by the composition root (`resetdesk/bootstrap.py`, through
`resetdesk.settings.load_settings`); nothing else reads the environment. Settings are grouped by
concern: `RESETDESK_<GROUP>__<FIELD>` (two underscores between the group and the field, e.g.
`RESETDESK_CALLBACKS__CAPACITY=4`); the four global ones are flat. A whole group can also be
given as one JSON object (`RESETDESK_CALLBACKS='{"capacity": 4}'`); lists are JSON
(`RESETDESK_QUEUE__RETRY__DELAYS_SECONDS='[1, 5, 30]'`); an empty value counts as unset.

Values are checked as they load. A bad one (out of bounds, not one of the choices, a misspelt
field in a group) or a variable still under its old flat name stops the command before it does
anything, with one line naming the variable and exit code 2, e.g.:

```
error: bad setting: RESETDESK_CALLBACKS__CAPACITY: Input should be greater than or equal to 1 (got '0')
```

Command-line options (`--data-dir`, `--host`, `--port`, `relay --batch` …) win over the settings.
This file is generated: `uv run resetdesk docs config` rewrites it, and a test fails when it is
out of date.
"""


def _fields(model: type[BaseModel], path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...],
                                                                             FieldInfo]]:
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from _fields(kind, (*path, name))
        else:
            yield (*path, name), info


def _accepts(info: FieldInfo) -> str:
    kind: Any = info.annotation
    optional = False
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        optional, kind = True, args[0]
    if typing.get_origin(kind) is Literal:
        text = " \\| ".join(f"`{v}`" for v in typing.get_args(kind))
    elif typing.get_origin(kind) is list:
        text = "JSON list of numbers"
    else:
        text = {bool: "true \\| false", int: "integer", float: "number", str: "text",
                Path: "path"}.get(kind, getattr(kind, "__name__", str(kind)))
    for rule in info.metadata:
        bound = _bound(rule)
        if bound:
            text += f", {bound}"
    return text + (" (optional)" if optional else "")


def _bound(rule: object) -> str | None:
    """``ge=1`` -> ``≥ 1`` (pydantic keeps a field's bounds as annotated-types metadata)."""
    if isinstance(rule, Ge):
        return f"≥ {rule.ge}"
    if isinstance(rule, Gt):
        return f"> {rule.gt}"
    if isinstance(rule, Le):
        return f"≤ {rule.le}"
    if isinstance(rule, Lt):
        return f"< {rule.lt}"
    if isinstance(rule, MinLen):
        return f"length ≥ {rule.min_length}"
    if isinstance(rule, MaxLen):
        return f"length ≤ {rule.max_length}"
    return None


def _default(info: FieldInfo) -> str:
    value = info.default
    if value is None:
        return "unset"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "`[" + ", ".join(f"{v:g}" for v in value) + "]`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def _group_title(model: type[BaseModel], name: str) -> str:
    doc = " ".join((model.__doc__ or "").split("\n\n")[0].split())
    return f"`{name}`" + (f": {doc.rstrip('.')}" if doc else "")


def render() -> str:
    lines = [INTRO]
    groups: dict[str, list[str]] = {}
    for path, info in _fields(Settings, ()):
        group = path[0] if len(path) > 1 else ""
        meaning = (info.description or "").replace("|", "\\|")
        row = f"| `{env_name(*path)}` | {_default(info)} | {_accepts(info)} | {meaning} |"
        groups.setdefault(group, []).append(row)
    header = ["| variable | default | accepts | meaning |", "|---|---|---|---|"]
    for group, rows in groups.items():
        if group:
            model = Settings.model_fields[group].annotation
            assert isinstance(model, type)
            lines.append(f"## {_group_title(model, group)}\n")
        else:
            lines.append("## Global\n")
        lines += [*header, *rows, ""]
    lines += ["## Renamed settings\n",
              "The settings were flat before they were grouped; a variable under its old name "
              "stops the process with the new name in the message.\n",
              "| old name | new name |", "|---|---|"]
    lines += [f"| `{old}` | {f'`{new}`' if new else '(removed: never read)'} |"
              for old, new in RENAMED.items()]
    return "\n".join(lines) + "\n"


def write(root: Path = Path(".")) -> Path:
    path = root / DOCUMENT
    path.write_text(render(), encoding="utf-8")
    return path
