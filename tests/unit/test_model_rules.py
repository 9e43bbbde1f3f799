"""Model-glob matching and the validation of the model-rules and regional-offices tables."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.domain.model_rules import (
    ModelRules,
    RegionalOffices,
    base_model,
    compile_pattern,
    normalize_model,
)

MODELS: dict[str, Any] = {
    "version": 1,
    "default_methods": ["sadp", "ivms4200"],
    "families": [
        {"name": "kits", "device_kinds": ["kit"], "patterns": ["NK4*"], "methods": ["sadp"]},
        {"name": "DS-72xxHUHI-Fx", "patterns": ["DS-72xxHUHI-Fx"], "methods": ["sadp", "ivms4200"]},
        {"name": "gui", "patterns": ["DS-72*"], "methods": ["local_gui", "sadp"]},
    ],
}

OFFICES: dict[str, Any] = {
    "served_countries": ["US", "CA"],
    "default_region": "international",
    "regions": {
        "europe": {
            "office": "Europe",
            "url": "https://eu.example.invalid/",
            "email": "eu@example.invalid",
            "countries": ["FR", "DE"],
            "placeholder": True,
        },
        "international": {
            "office": "International",
            "url": "https://int.example.invalid/",
            "email": "int@example.invalid",
            "placeholder": True,
        },
    },
}


def models_with(**family_changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MODELS)
    data["families"][1].update(family_changes)
    return data


# --- the glob ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "model", "matches"),
    [
        ("DS-72xxHUHI-Fx", "DS-7208HUHI-F2", True),
        ("DS-72xxHUHI-Fx", "ds-7216huhi-f1", True),
        ("DS-72xxHUHI-Fx", "DS-720HUHI-F2", False),
        ("DS-72xxHUHI-Fx", "DS-7208HUHI-F22", False),
        ("DS-72xxHUHI-Fx", "DS-7308HUHI-F2", False),
        ("DS-72xxHUHI-Fx", "DS-72-8HUHI-F2", False),
        ("NK4*", "NK42E0H-1T(WD)", True),
        ("NK4*", "NK4", True),
        ("*-KIT*", "DS-J142I-KIT", True),
        ("NK42E0H-1T(WD)", "nk42e0h-1t(wd)", True),
        ("DS-2CD.x", "DS-2CDX1", False),
    ],
)
def test_glob_x_is_one_alphanumeric_and_star_any_run(pattern: str, model: str, matches: bool):
    assert bool(compile_pattern(pattern).fullmatch(model)) is matches


def test_glob_uppercase_x_is_a_literal():
    assert compile_pattern("DS-X1").fullmatch("ds-x1")
    assert not compile_pattern("DS-X1").fullmatch("DS-A1")


def test_glob_does_not_fold_unicode_lookalikes():
    assert not compile_pattern("NK4*").fullmatch("N\u212a4")  # Kelvin sign, not K


@pytest.mark.parametrize("pattern", ["", "DS 72", "DS-72[0-9]", "DS-72**", "DS-7?", "DS-7$"])
def test_glob_refuses_bad_patterns(pattern: str):
    with pytest.raises(ValueError, match="bad model pattern"):
        compile_pattern(pattern)


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWYZ0123456789-/", min_size=1, max_size=20))
def test_glob_without_wildcards_matches_itself_in_any_case(text: str):
    rx = compile_pattern(text)
    assert rx.fullmatch(text) and rx.fullmatch(text.lower())


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@given(st.text(alphabet=ALNUM, min_size=2, max_size=2))
def test_glob_placeholders_accept_any_alphanumeric(digits: str):
    assert compile_pattern("DS-72xxHUHI-F2").fullmatch(f"DS-72{digits}HUHI-F2")


def test_model_normalisation_ignores_case_and_spaces_and_base_drops_variant():
    assert normalize_model(" ds-7208huhi-f2 /n ") == "DS-7208HUHI-F2/N"
    assert base_model("DS-7608NI-I2/8P") == "DS-7608NI-I2"


# --- ModelRules ----------------------------------------------------------------------------------


def test_ds72_family_refuses_local_gui_even_though_a_later_family_would_allow_it():
    rules = ModelRules.from_mapping(MODELS)
    assert rules.allowed_methods("DS-7208HUHI-F2/N") == ("sadp", "ivms4200")
    assert rules.family_for("DS-7208HUHI-F2/N").name == "DS-72xxHUHI-Fx"  # type: ignore[union-attr]


def test_later_family_decides_when_earlier_ones_do_not_match():
    rules = ModelRules.from_mapping(MODELS)
    assert rules.supports_local_gui("DS-7208HQHI-K1")


def test_kit_is_recognised_by_device_kind_whatever_the_model():
    rules = ModelRules.from_mapping(MODELS)
    assert rules.family_for("DS-7208HQHI-K1", " KIT ").name == "kits"  # type: ignore[union-attr]


def test_model_in_no_family_gets_default_methods():
    rules = ModelRules.from_mapping(MODELS)
    assert rules.family_for("DS-2CD2143G2-I") is None
    assert rules.allowed_methods("DS-2CD2143G2-I") == ("sadp", "ivms4200")


def test_methods_are_kept_in_canonical_order():
    rules = ModelRules.from_mapping(models_with(methods=["ivms4200", "local_gui", "sadp"]))
    assert rules.families[1].methods == ("sadp", "ivms4200", "local_gui")


def test_default_methods_default_to_all_methods():
    rules = ModelRules.from_mapping({"families": []})
    assert rules.default_methods == ("sadp", "ivms4200", "local_gui")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (models_with(methods=["sadp", "telnet"]), "DS-72xxHUHI-Fx.*unknown method 'telnet'"),
        (models_with(methods=[]), "DS-72xxHUHI-Fx.*at least one method"),
        (models_with(methods=["sadp", "sadp"]), "DS-72xxHUHI-Fx.*duplicate entry 'sadp'"),
        (models_with(patterns=["DS-72[0-9]"]), "DS-72xxHUHI-Fx.*bad model pattern"),
        (models_with(patterns=[]), "DS-72xxHUHI-Fx.*empty family"),
        (models_with(patterns="DS-72*"), "DS-72xxHUHI-Fx' patterns: expected a list"),
        (models_with(name="KITS"), "'KITS': duplicate family name"),
        (models_with(patterns=["nk4*"]), "pattern 'nk4\\*' already belongs to 'kits'"),
        (models_with(metods=["sadp"]), "DS-72xxHUHI-Fx.*unknown key.*metods"),
        (models_with(name=""), r"families\[1\]: missing or empty name"),
        ({**MODELS, "default_methods": ["sap"]}, "default_methods: unknown method 'sap'"),
        ({**MODELS, "familes": []}, "unknown key.*familes"),
        ({**MODELS, "version": 2}, "version: 2 is not supported"),
        ({**MODELS, "families": {"a": 1}}, "families: expected a list"),
    ],
)
def test_model_rules_refuse_bad_entries_and_name_them(data: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=message):
        ModelRules.from_mapping(data)


# --- RegionalOffices --------------------------------------------------------------------------


def test_served_country_is_served_in_any_case():
    offices = RegionalOffices.from_mapping(OFFICES)
    assert offices.serves("us") and offices.serves(" CA ")
    assert not offices.serves("FR")


def test_listed_country_gets_its_region_and_others_the_default():
    offices = RegionalOffices.from_mapping(OFFICES)
    assert offices.office_for("fr").region == "europe"
    assert offices.office_for("JP").region == "international"


def offices_with(region: str = "europe", **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(OFFICES)
    data["regions"][region].update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (offices_with(countries=["FR", "fr"]), "regions.europe countries: duplicate entry"),
        (offices_with(countries=["FRA"]), "'FRA' is not an upper-case ISO alpha-2"),
        (offices_with(countries=["US"]), "regions.europe: US is a served country"),
        (offices_with("international", countries=["DE"]), "DE is already in 'europe'"),
        (offices_with(url="http://eu.example.invalid"), "regions.europe: url must start"),
        (offices_with(email="nobody"), "regions.europe: 'nobody' is not an e-mail"),
        (offices_with(office=" "), "regions.europe: missing or empty name"),
        (offices_with(phone="1"), "regions.europe: unknown key.*phone"),
        (offices_with(placeholder=False), "regions.europe: url is a .invalid placeholder but "
                                          "placeholder = false"),
        (offices_with(placeholder=False, url="https://eu.example.com/"),
         "regions.europe: email is a .invalid placeholder"),
        (offices_with(placeholder="yes"), "regions.europe placeholder: expected true or false"),
        (offices_with(placeholder=None), "regions.europe placeholder: expected true or false"),
        ({**OFFICES, "default_region": "mars"}, "default_region: 'mars' is not"),
        ({**OFFICES, "served_countries": []}, "served_countries: must not be empty"),
        ({**OFFICES, "regions": {}}, "regions: expected at least one"),
    ],
)
def test_regional_offices_refuse_bad_entries_and_name_them(data: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=message):
        RegionalOffices.from_mapping(data)
