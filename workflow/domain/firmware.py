"""Firmware versions and the ranges a model family's reset methods may depend on.

The procedure says the reset method depends on the model *and* the firmware, but names no
firmware ranges: the rules file can state them per family (`[[families.firmware]]`), and ranges
product support has not confirmed carry `placeholder = true` (listed in the README under "To
confirm before production"). A family with ranges needs a readable firmware version; the rules
reject a request whose version they cannot read rather than guess a method.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

#: ``V4.30.085 build 200916``, ``v5.5.800build210628``, ``4.1.25``, ``V4.62.210_build_220607``
_FIRMWARE: Final = re.compile(
    r"\s*[Vv]?(?P<version>[0-9]{1,5}(?:\.[0-9]{1,5}){1,3})"
    r"(?:[\s_,]*[Bb][Uu][Ii][Ll][Dd][\s_]*(?P<build>[0-9]{6,8}))?\s*", re.ASCII)
_PARTS: Final = 4


@dataclass(frozen=True, order=True)
class Firmware:
    """A comparable firmware version: the dotted numbers (padded to four), then the build date
    (0 when none was given, so a bound without a build is that version's first build)."""

    version: tuple[int, ...]
    build: int = 0

    def __str__(self) -> str:
        text = "V" + ".".join(str(n) for n in self.version)
        return f"{text} build {self.build}" if self.build else text


def parse_firmware(text: object) -> Firmware | None:
    """The version in ``text``, or None when it is not one (free text, a date, empty…)."""
    if not isinstance(text, str):
        return None
    found = _FIRMWARE.fullmatch(text)
    if found is None:
        return None
    numbers = tuple(int(n) for n in found["version"].split("."))
    padded = numbers + (0,) * (_PARTS - len(numbers))
    return Firmware(padded, int(found["build"] or 0))


@dataclass(frozen=True)
class FirmwareRange:
    """Versions from ``start`` (inclusive) to ``below`` (exclusive; None: open), and the methods
    a family allows for them. ``placeholder``: an example, not yet confirmed by product support."""

    methods: tuple[str, ...]
    start: Firmware | None = None
    below: Firmware | None = None
    placeholder: bool = False
    note: str = ""

    def contains(self, firmware: Firmware) -> bool:
        return (self.start is None or self.start <= firmware) and \
            (self.below is None or firmware < self.below)

    def describe(self) -> str:
        low = f"from {self.start}" if self.start else "any version"
        return f"{low} below {self.below}" if self.below else low


def _bound(raw: Mapping[str, Any], key: str, where: str) -> Firmware | None:
    value = raw.get(key)
    if value is None:
        return None
    found = parse_firmware(value)
    if found is None:
        raise ValueError(f"{where}: {key} {value!r} is not a firmware version like "
                         "'V4.30.085' or 'V4.30.085 build 200916'")
    return found


def firmware_range(raw: object, where: str, methods: tuple[str, ...]) -> FirmwareRange:
    """One ``[[families.firmware]]`` table; ``methods`` already checked by the caller."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a table")
    unknown = sorted(set(raw) - {"from", "below", "methods", "placeholder", "note"})
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    start, below = _bound(raw, "from", where), _bound(raw, "below", where)
    if start is None and below is None:
        raise ValueError(f"{where}: give from, below or both")
    if start is not None and below is not None and not start < below:
        raise ValueError(f"{where}: from {start} is not below {below}")
    placeholder, note = raw.get("placeholder", False), raw.get("note", "")
    if not isinstance(placeholder, bool):
        raise ValueError(f"{where}: placeholder must be true or false")
    if not isinstance(note, str):
        raise ValueError(f"{where}: note must be a string")
    return FirmwareRange(methods, start, below, placeholder, note)


def check_disjoint(ranges: tuple[FirmwareRange, ...], where: str) -> None:
    """Two ranges of one family may not share a version: which one decides would be a guess."""
    for i, a in enumerate(ranges):
        for b in ranges[i + 1:]:
            low = max((r.start for r in (a, b) if r.start), default=None)
            high = min((r.below for r in (a, b) if r.below), default=None)
            if low is None or high is None or low < high:
                raise ValueError(f"{where}: firmware ranges {a.describe()} and "
                                 f"{b.describe()} overlap")


def firmware_ranges(raw: object, where: str,
                    methods: Callable[[object, str], tuple[str, ...]]) -> tuple[FirmwareRange, ...]:
    """A family's ``[[families.firmware]]`` list; ``methods`` checks each range's methods."""
    if not isinstance(raw, list):
        raise ValueError(f"{where}: expected a list of [[families.firmware]] tables")
    ranges = tuple(
        firmware_range(r, f"{where}[{i}]", methods(
            r.get("methods") if isinstance(r, Mapping) else None, f"{where}[{i}] methods"))
        for i, r in enumerate(raw))
    check_disjoint(ranges, where)
    return ranges
