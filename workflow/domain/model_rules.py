"""The data-driven tables the verification rules consult: model families and regional offices.

They are data rather than code so ops can change which models reset how, or where a customer
outside the NA desk's area is sent, by editing a TOML file (read by `workflow.adapters.rules_file`).
Validation is strict and every error names the bad entry: a typo here would otherwise silently
change which customers are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from workflow.domain.firmware import Firmware, FirmwareRange, firmware_ranges

METHODS: tuple[str, ...] = ("sadp", "ivms4200", "local_gui")
"""Every reset method the desk knows, in the order they are offered to a customer."""

_PATTERN_TEXT = re.compile(r"[A-Za-z0-9*\-_/().+]+", re.ASCII)
_COUNTRY = re.compile(r"[A-Z]{2}", re.ASCII)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalize_model(model: str) -> str:
    """Upper-case and drop all whitespace, so `ds-7208huhi-f2 /n` and `DS-7208HUHI-F2/N` agree."""
    return "".join(model.split()).upper()


def base_model(model: str) -> str:
    """The model without its label variant suffix (`DS-7208HUHI-F2/N` → `DS-7208HUHI-F2`)."""
    return normalize_model(model).split("/", 1)[0]


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile the tiny model glob: lowercase `x` = one letter or digit, `*` = any run (even empty),
    everything else literal and case-insensitive. Use `fullmatch` on the result.

    A glob rather than raw regex keeps the data file editable by ops without regex pitfalls.
    """
    if not isinstance(pattern, str) or not _PATTERN_TEXT.fullmatch(pattern):
        raise ValueError(f"bad model pattern {pattern!r}: use letters, digits, - _ / ( ) . + and *")
    if "**" in pattern:
        raise ValueError(f"bad model pattern {pattern!r}: '**' is redundant, write '*'")
    parts = []
    for char in pattern:
        if char == "x":
            parts.append("[A-Za-z0-9]")
        elif char == "*":
            parts.append(".*")
        else:
            parts.append(re.escape(char))
    # ASCII: without it IGNORECASE lets 'K' (Kelvin sign) match 'k'.
    return re.compile("".join(parts), re.IGNORECASE | re.ASCII)


@dataclass(frozen=True)
class ModelFamily:
    """Devices that share a reset procedure, matched by model pattern or by declared device kind."""

    name: str
    patterns: tuple[str, ...]
    methods: tuple[str, ...]
    device_kinds: frozenset[str] = frozenset()
    note: str = ""
    #: where the methods depend on the firmware: the first range holding the version decides
    firmware: tuple[FirmwareRange, ...] = ()
    #: an example list product support has not confirmed yet (README "To confirm before production")
    placeholder: bool = False
    _compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(compile_pattern(p) for p in self.patterns))

    def matches(self, model: str, device_kind: str = "") -> bool:
        """True if the kind is one of ours, or a pattern matches the full model or its base."""
        if device_kind.strip().lower() in self.device_kinds:
            return True
        full, base = normalize_model(model), base_model(model)
        return any(rx.fullmatch(full) or rx.fullmatch(base) for rx in self._compiled)

    def methods_for(self, firmware: Firmware | None) -> tuple[str, ...]:
        """The methods for this version: its range's, or the family's outside every range (and
        when no version is given; the rules refuse an unreadable one before asking)."""
        found = next((r for r in self.firmware if firmware and r.contains(firmware)), None)
        return found.methods if found else self.methods


@dataclass(frozen=True)
class ModelRules:
    """Which reset methods each model may use. The first matching family decides; a model in no
    family gets `default_methods`. Local-GUI capability is simply `local_gui` in a family's methods.
    """

    families: tuple[ModelFamily, ...]
    default_methods: tuple[str, ...]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ModelRules:
        """Build from the parsed data file; raise `ValueError` naming the first bad entry."""
        _check_keys(data, {"version", "default_methods", "families"}, "model rules")
        _check_version(data)
        default = _methods(data.get("default_methods", list(METHODS)), "default_methods")
        raw_families = data.get("families", [])
        if not isinstance(raw_families, list):
            raise ValueError("families: expected a list of [[families]] tables")
        families: list[ModelFamily] = []
        seen_names: set[str] = set()
        owner: dict[str, str] = {}
        for index, raw in enumerate(raw_families):
            family = _family(raw, index)
            if family.name.lower() in seen_names:
                raise ValueError(f"family {family.name!r}: duplicate family name")
            seen_names.add(family.name.lower())
            for pattern in family.patterns:
                first = owner.setdefault(pattern.lower(), family.name)
                if first != family.name:
                    raise ValueError(
                        f"family {family.name!r}: pattern {pattern!r} already belongs to {first!r}"
                    )
            families.append(family)
        return cls(families=tuple(families), default_methods=default)

    def family_for(self, model: str, device_kind: str = "") -> ModelFamily | None:
        return next((f for f in self.families if f.matches(model, device_kind)), None)

    def allowed_methods(self, model: str, device_kind: str = "",
                        firmware: Firmware | None = None) -> tuple[str, ...]:
        family = self.family_for(model, device_kind)
        return family.methods_for(firmware) if family else self.default_methods

    def supports_local_gui(self, model: str, device_kind: str = "") -> bool:
        return "local_gui" in self.allowed_methods(model, device_kind)


@dataclass(frozen=True)
class RegionalOffice:
    """Where a customer outside the served countries is sent instead."""

    region: str
    office: str
    url: str
    email: str
    #: contacts not yet confirmed as the office's published ones (only these may be `.invalid`)
    placeholder: bool = False


@dataclass(frozen=True)
class RegionalOffices:
    """Served countries, and for every other country the office of its region (or the default)."""

    served_countries: frozenset[str]
    offices: Mapping[str, RegionalOffice]
    country_region: Mapping[str, str]
    default_region: str

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RegionalOffices:
        """Build from the parsed data file; raise `ValueError` naming the first bad entry."""
        _check_keys(data, {"version", "served_countries", "default_region", "regions"}, "regional offices")
        _check_version(data)
        served = frozenset(_countries(data.get("served_countries"), "served_countries"))
        if not served:
            raise ValueError("served_countries: must not be empty")
        regions = data.get("regions")
        if not isinstance(regions, Mapping) or not regions:
            raise ValueError("regions: expected at least one [regions.<name>] table")
        offices: dict[str, RegionalOffice] = {}
        country_region: dict[str, str] = {}
        for region, raw in regions.items():
            office, countries = _office(region, raw)
            offices[region] = office
            for country in countries:
                if country in served:
                    raise ValueError(f"regions.{region}: {country} is a served country")
                previous = country_region.setdefault(country, region)
                if previous != region:
                    raise ValueError(f"regions.{region}: {country} is already in {previous!r}")
        default = data.get("default_region", "international")
        if default not in offices:
            raise ValueError(f"default_region: {default!r} is not a [regions.*] table")
        return cls(served, MappingProxyType(offices), MappingProxyType(country_region), default)

    def serves(self, country: str) -> bool:
        return country.strip().upper() in self.served_countries

    def office_for(self, country: str) -> RegionalOffice:
        region = self.country_region.get(country.strip().upper(), self.default_region)
        return self.offices[region]


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a table")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _check_version(data: Mapping[str, Any]) -> None:
    if data.get("version", 1) != 1:
        raise ValueError(f"version: {data['version']!r} is not supported (expected 1)")


def _str_list(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a list of strings")
    lowered = [v.lower() for v in value]
    dupes = sorted({v for v in value if lowered.count(v.lower()) > 1})
    if dupes:
        raise ValueError(f"{where}: duplicate entry {dupes[0]!r}")
    return tuple(value)


def _methods(value: object, where: str) -> tuple[str, ...]:
    methods = _str_list(value, where)
    if not methods:
        raise ValueError(f"{where}: must name at least one method")
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"{where}: unknown method {method!r} (known: {', '.join(METHODS)})")
    return tuple(m for m in METHODS if m in methods)


def _countries(value: object, where: str) -> tuple[str, ...]:
    countries = _str_list(value, where)
    for country in countries:
        if not _COUNTRY.fullmatch(country):
            raise ValueError(f"{where}: {country!r} is not an upper-case ISO alpha-2 code")
    return countries


def _family(raw: object, index: int) -> ModelFamily:
    if not isinstance(raw, Mapping):
        raise ValueError(f"families[{index}]: expected a table")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"families[{index}]: missing or empty name")
    where = f"family {name!r}"
    _check_keys(raw, {"name", "patterns", "device_kinds", "methods", "note", "firmware",
                      "placeholder"}, where)
    patterns = _str_list(raw.get("patterns", []), f"{where} patterns")
    kinds = _str_list(raw.get("device_kinds", []), f"{where} device_kinds")
    if not patterns and not kinds:
        raise ValueError(f"{where}: empty family, give patterns or device_kinds")
    for pattern in patterns:
        try:
            compile_pattern(pattern)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise ValueError(f"{where} note: expected a string")
    ranges = firmware_ranges(raw.get("firmware", []), f"{where} firmware", _methods)
    return ModelFamily(
        name=name,
        patterns=patterns,
        methods=_methods(raw.get("methods"), f"{where} methods"),
        device_kinds=frozenset(k.strip().lower() for k in kinds),
        note=note,
        firmware=ranges,
        placeholder=_flag(raw.get("placeholder", False), f"{where} placeholder"),
    )


def _office(region: str, raw: object) -> tuple[RegionalOffice, tuple[str, ...]]:
    where = f"regions.{region}"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a table")
    _check_keys(raw, {"name", "office", "url", "email", "countries", "placeholder"}, where)
    if "name" in raw and "office" in raw:
        raise ValueError(f"{where}: give the office's name once, as `name`")
    placeholder = _flag(raw.get("placeholder"), f"{where} placeholder")
    values: dict[str, str] = {}
    for key in ("office", "url", "email"):
        # `name` is the field; `office` its first spelling, still read in older rule files
        value = raw.get("name", raw.get("office")) if key == "office" else raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: missing or empty {'name' if key == 'office' else key}")
        values[key] = value.strip()
    if not values["url"].startswith("https://"):
        raise ValueError(f"{where}: url must start with https://")
    if not _EMAIL.fullmatch(values["email"]):
        raise ValueError(f"{where}: {values['email']!r} is not an e-mail address")
    for key in ("url", "email"):
        if ".invalid" in values[key].lower() and not placeholder:
            raise ValueError(f"{where}: {key} is a .invalid placeholder but placeholder = false")
    countries = _countries(raw.get("countries", []), f"{where} countries")
    office = RegionalOffice(region, values["office"], values["url"], values["email"], placeholder)
    return office, countries


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: expected true or false")
    return value
