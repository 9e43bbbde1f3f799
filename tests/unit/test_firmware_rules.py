"""Firmware versions: parsing, comparison, ranges in the rules file, and the method check that
needs a readable version where a family's methods depend on it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from schemas.requests_v1 import RequestSubmittedV1
from schemas.sample import sample_request_data
from workflow.adapters.rules_file import load_model_rules, load_rule_book
from workflow.domain.firmware import Firmware, parse_firmware
from workflow.domain.model_rules import ModelRules
from workflow.domain.rules import REJECTED_METHOD, RuleBook, check_method, verify
from workflow.service.verification import facts_of

from .test_rules import BOOK, GOOD


@pytest.mark.parametrize(("text", "version", "build"), [
    ("V4.30.085 build 200916", (4, 30, 85, 0), 200916),
    ("v5.5.800build210628", (5, 5, 800, 0), 210628),
    ("V4.62.210_build_220607", (4, 62, 210, 0), 220607),
    ("  4.1.25 ", (4, 1, 25, 0), 0),
    ("V3.0", (3, 0, 0, 0), 0),
    ("V1.2.3.4 Build 20200101", (1, 2, 3, 4), 20200101),
])
def test_firmware_strings_parse(text: str, version: tuple[int, ...], build: int) -> None:
    assert parse_firmware(text) == Firmware(version, build)


@pytest.mark.parametrize("text", ["", "latest", "V4", "4.x.2", "V4.30.085 build", "V4.30.085 b200916",
                                  "V4.30.085 build 2009", "V٤.30.085", "V4.30.085 build 200916 beta",
                                  "1.2.3.4.5", None, 4.3])
def test_unreadable_firmware_is_none(text: Any) -> None:
    assert parse_firmware(text) is None


def test_versions_compare_by_number_then_build() -> None:
    assert parse_firmware("V4.30.085") == parse_firmware("V4.30.85") == parse_firmware("4.30.85.0")
    ordered = ["V3.9.999", "V4.9.0", "V4.10.0", "V4.30.085", "V4.30.085 build 200916",
               "V4.30.085 build 210101", "V4.30.086 build 190101", "V10.0"]
    parsed = [parse_firmware(t) for t in ordered]
    readable = [p for p in parsed if p is not None]
    assert len(readable) == len(ordered)
    assert sorted(reversed(readable)) == readable  # numeric, not text: V4.10 after V4.9


def _rules(*ranges: dict[str, Any]) -> ModelRules:
    return ModelRules.from_mapping({"families": [{
        "name": "recorders", "patterns": ["DS-76xxNI-*"], "methods": ["local_gui", "sadp", "ivms4200"],
        "firmware": list(ranges)}]})


def _book(models: ModelRules) -> RuleBook:
    return replace(BOOK, models=models)


OLD = {"below": "V4.0.0", "methods": ["sadp"], "placeholder": True}
MIDDLE = {"from": "V4.0.0", "below": "V4.30.085 build 200916", "methods": ["sadp", "ivms4200"]}


@pytest.mark.parametrize(("firmware", "methods"), [
    ("V3.9.999 build 999999", ("sadp",)),
    ("V4.0.0", ("sadp", "ivms4200")),
    ("V4.30.085 build 200915", ("sadp", "ivms4200")),
    ("V4.30.085 build 200916", ("sadp", "ivms4200", "local_gui")),  # `below` is exclusive
    ("V5.0", ("sadp", "ivms4200", "local_gui")),
])
def test_the_range_holding_the_version_decides_and_outside_them_the_family(
        firmware: str, methods: tuple[str, ...]) -> None:
    rules = _rules(OLD, MIDDLE)
    assert set(rules.allowed_methods("DS-7608NI-I2", "nvr", parse_firmware(firmware))) == set(methods)


def test_a_request_with_a_version_in_a_range_without_its_method_is_refused_naming_it() -> None:
    verdict = check_method(replace(GOOD, firmware="V3.1.0"), _book(_rules(OLD, MIDDLE)))
    assert verdict is not None and verdict.outcome == REJECTED_METHOD
    assert verdict.next_step["kind"] == "use_method" and verdict.next_step["methods"] == "sadp"
    assert "with firmware V3.1.0.0" in verdict.reason


@pytest.mark.parametrize("firmware", ["", "latest", "see label"])
def test_unreadable_firmware_is_refused_where_the_family_needs_it(firmware: str) -> None:
    verdict = verify(replace(GOOD, firmware=firmware, method="sadp"), _book(_rules(OLD)))
    assert verdict.outcome == REJECTED_METHOD
    assert verdict.next_step == {"kind": "firmware_unreadable", "family": "recorders"}
    assert verdict.reason.startswith("firmware version unreadable")


def test_unreadable_firmware_is_fine_where_no_rule_needs_it() -> None:
    assert check_method(replace(GOOD, firmware="latest"), BOOK) is None
    kit = replace(GOOD, firmware="?", model="NK42E0H-1T", device_kind="kit", method="sadp")
    assert check_method(kit, _book(_rules(OLD))) is None


@pytest.mark.parametrize(("ranges", "message"), [
    ([{"methods": ["sadp"]}], "give from, below or both"),
    ([{"from": "V5", "methods": ["sadp"]}], "'V5' is not a firmware version"),
    ([{"from": "V5.0", "below": "V4.0", "methods": ["sadp"]}], "is not below"),
    ([{"below": "V4.0", "methods": ["ftp"]}], "unknown method 'ftp'"),
    ([{"below": "V4.0", "methods": ["sadp"], "placeholder": "yes"}], "placeholder must be"),
    ([{"below": "V4.0", "methods": ["sadp"], "max": "V9.0"}], "unknown key(s) max"),
    ([OLD, {"from": "V3.0", "below": "V5.0", "methods": ["sadp"]}], "overlap"),
    ([{"from": "V3.0", "methods": ["sadp"]}, {"from": "V4.0", "methods": ["sadp"]}], "overlap"),
])
def test_bad_firmware_ranges_are_refused_naming_the_family(ranges: list[dict[str, Any]],
                                                           message: str) -> None:
    with pytest.raises(ValueError, match="family 'recorders' firmware") as info:
        _rules(*ranges)
    assert message in str(info.value)


def test_the_shipped_ranges_are_all_marked_placeholder() -> None:
    """The procedure names no firmware range: every shipped one is an example to confirm."""
    families = load_model_rules().families
    ranges = [r for f in families for r in f.firmware]
    assert ranges, "the packaged file shows the mechanism with at least one example"
    assert all(r.placeholder for r in ranges)


def test_a_request_with_unreadable_firmware_is_rejected_by_the_packaged_rules() -> None:
    """From the contract to the verdict: the firmware field reaches the rules."""

    book = load_rule_book()
    for firmware, kind in (("see the sticker", "firmware_unreadable"), ("V4.62.210 build 220607", None)):
        request = RequestSubmittedV1.model_validate(
            sample_request_data(device__firmware_version=firmware))
        verdict = verify(facts_of(request, True), book)
        assert verdict.next_step.get("kind") == kind, verdict.reason
