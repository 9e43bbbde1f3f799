"""Placeholders in the shipped data files are flagged, and the README lists every one of them under
"To confirm before production", so nobody ships an example contact or range as if it were real."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workflow.domain.model_rules import RegionalOffices

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "workflow" / "data"
HEADING = "## To confirm before production"
INVALID = re.compile(r"\.invalid\b", re.IGNORECASE)


def _tables(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every table with its path: ``regions.latam``, ``families[kits].firmware[0]``."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _tables(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            name = item.get("name") if isinstance(item, dict) else None
            yield from _tables(item, f"{path}[{name if isinstance(name, str) else index}]")


def data_tables() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(DATA.rglob("*.toml")):
        for where, table in _tables(tomllib.loads(path.read_text(encoding="utf-8")), ""):
            yield f"{path.relative_to(DATA)}: {where}", table


def flagged() -> set[str]:
    return {where for where, table in data_tables() if table.get("placeholder") is True}


def readme_list() -> set[str]:
    """The first code span of each bullet under the heading, up to the next heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert HEADING in text, f"README.md has no '{HEADING}' section"
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    return {m.group(1) for m in re.finditer(r"^- `([^`]+)`", section, re.MULTILINE)}


def test_the_readme_lists_exactly_the_placeholders_in_the_data_files() -> None:
    found = flagged()
    assert found, "the data files flag no placeholder: the README section should go, not stay"
    listed = readme_list()
    assert found - listed == set(), "flagged in workflow/data but missing from the README"
    assert listed - found == set(), "listed in the README but no longer flagged in workflow/data"


def test_no_data_file_has_an_unflagged_invalid_address() -> None:
    """A `.invalid` URL or address never resolves: only a table flagged placeholder may hold one."""
    unflagged = [f"{where}.{key}" for where, table in data_tables()
                 for key, value in table.items()
                 if isinstance(value, str) and INVALID.search(value)
                 and table.get("placeholder") is not True]
    assert unflagged == []


def test_every_regional_office_states_whether_it_is_a_placeholder() -> None:
    offices = tomllib.loads((DATA / "regional_offices.toml").read_text(encoding="utf-8"))
    for region, office in offices["regions"].items():
        assert isinstance(office.get("placeholder"), bool), region
        assert {"name", "url", "email"} <= set(office), region  # and the key is its region


def test_the_checks_above_would_catch_an_unflagged_invalid_url() -> None:
    table = {"name": "X", "url": "https://x.example.invalid/", "email": "x@example.com",
             "placeholder": False}
    assert [w for w, t in _tables({"regions": {"x": table}}, "") if t.get("placeholder") is True] == []
    with pytest.raises(ValueError, match=r"url is a \.invalid placeholder"):
        RegionalOffices.from_mapping({"served_countries": ["US"], "default_region": "x",
                                      "regions": {"x": table}})
    confirmed = {**table, "url": "https://x.example.com/"}
    office = RegionalOffices.from_mapping({"served_countries": ["US"], "default_region": "x",
                                           "regions": {"x": confirmed}}).office_for("FR")
    assert office.placeholder is False


def test_an_office_is_named_once_and_the_old_spelling_still_loads() -> None:
    base = {"url": "https://x.example.com/", "email": "x@example.com", "placeholder": False}
    mapping = {"served_countries": ["US"], "default_region": "x"}
    old = RegionalOffices.from_mapping({**mapping, "regions": {"x": {**base, "office": "Old"}}})
    assert old.office_for("FR").office == "Old"
    with pytest.raises(ValueError, match="give the office's name once"):
        RegionalOffices.from_mapping({**mapping, "regions": {"x": {**base, "office": "A",
                                                                  "name": "B"}}})
    with pytest.raises(ValueError, match="missing or empty name"):
        RegionalOffices.from_mapping({**mapping, "regions": {"x": base}})
