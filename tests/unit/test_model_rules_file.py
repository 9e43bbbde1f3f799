"""The TOML loaders: packaged defaults, ops-edited copies, and errors that name the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.adapters.rules_file import (
    load_model_rules,
    load_regional_offices,
    load_rule_book,
    packaged_data,
)


def test_packaged_model_rules_restrict_the_named_families_and_kits():
    rules = load_model_rules()
    for model in ("DS-7208HUHI-F2/N", "DS-7316HUHI-F4/N", "DS-9016HUHI-F8/N", "NK42E0H-1T(WD)"):
        assert rules.allowed_methods(model) == ("sadp", "ivms4200"), model
    assert rules.allowed_methods("DS-7608NI-I2/8P", "kit") == ("sadp", "ivms4200")


def test_packaged_model_rules_allow_local_gui_only_for_listed_recorders():
    rules = load_model_rules()
    assert rules.supports_local_gui("DS-7608NI-I2/8P")
    assert not rules.supports_local_gui("DS-2CD2143G2-I")


def test_packaged_offices_serve_us_and_canada_and_route_the_rest():
    offices = load_regional_offices()
    assert offices.served_countries == {"US", "CA"}
    assert offices.office_for("MX").region == "latam"
    assert offices.office_for("DE").region == "europe"
    assert offices.office_for("AU").region == "asia_pacific"
    assert offices.office_for("ZA").region == "middle_east_africa"
    assert offices.office_for("AQ").region == "international"


def test_an_ops_copy_replaces_the_packaged_file(tmp_path: Path):
    path = tmp_path / "rules.toml"
    path.write_text(
        'default_methods = ["sadp"]\n[[families]]\nname = "all"\npatterns = ["*"]\nmethods = ["local_gui"]\n',
        encoding="utf-8",
    )
    rules = load_model_rules(path)
    assert rules.allowed_methods("DS-7208HUHI-F2/N") == ("local_gui",)


def test_invalid_entry_error_names_the_file_and_the_entry(tmp_path: Path):
    path = tmp_path / "rules.toml"
    path.write_text('[[families]]\nname = "bad"\npatterns = ["A"]\nmethods = ["ftp"]\n')
    with pytest.raises(ValueError, match=r"rules\.toml: family 'bad' methods: unknown method"):
        load_model_rules(path)


def test_toml_syntax_error_names_the_file(tmp_path: Path):
    path = tmp_path / "offices.toml"
    path.write_text("served_countries = [\n")
    with pytest.raises(ValueError, match=r"offices\.toml: "):
        load_regional_offices(path)


def test_missing_file_is_not_silently_replaced_by_the_default(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        load_model_rules(tmp_path / "absent.toml")


def test_rule_book_loads_both_defaults():
    book = load_rule_book()
    assert book.models.families and book.offices.offices
    assert packaged_data("model_rules.toml").is_file()
