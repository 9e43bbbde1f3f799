"""Each verification rule's pass and fail, and the order `verify` applies them in."""

from __future__ import annotations

from dataclasses import replace

import pytest

from workflow.domain.model_rules import ModelRules, RegionalOffices
from workflow.domain.rules import (
    RULES,
    Method,
    RequestFacts,
    RuleBook,
    check_attestation,
    check_human,
    check_method,
    check_region,
    check_serial,
    verify,
)
from workflow.domain.states import Outcome

BOOK = RuleBook(
    models=ModelRules.from_mapping(
        {
            "default_methods": ["sadp", "ivms4200"],
            "families": [
                {
                    "name": "kits",
                    "device_kinds": ["kit"],
                    "patterns": ["NK4*", "*-KIT*"],
                    "methods": ["sadp", "ivms4200"],
                },
                {
                    "name": "DS-72xxHUHI-Fx",
                    "patterns": ["DS-72xxHUHI-Fx"],
                    "methods": ["sadp", "ivms4200"],
                },
                {
                    "name": "recorders",
                    "patterns": ["DS-76xxNI-*"],
                    "methods": ["local_gui", "sadp", "ivms4200"],
                },
            ],
        }
    ),
    offices=RegionalOffices.from_mapping(
        {
            "served_countries": ["US", "CA"],
            "regions": {
                "latam": {
                    "office": "Latin America",
                    "url": "https://la.example.invalid/",
                    "email": "la@example.invalid",
                    "countries": ["MX"],
                    "placeholder": True,
                },
                "international": {
                    "office": "International",
                    "url": "https://i.example.invalid/",
                    "email": "i@example.invalid",
                    "placeholder": True,
                },
            },
        }
    ),
)

GOOD = RequestFacts(
    country="US",
    language="en",
    model="DS-7608NI-I2/8P",
    full_serial="DS-7608NI-I2/8P0820160816CCRR123456789WCVU",
    method="local_gui",
    device_kind="nvr",
    authorised=True,
    on_site_or_network=True,
    human_check_passed=True,
)


def test_good_local_gui_request_passes_every_rule():
    verdict = verify(GOOD, BOOK)
    assert verdict.ok and verdict.outcome is None and verdict.next_step == {}


def test_rules_run_in_the_documented_order():
    assert [rule.__name__ for rule in RULES] == [
        "check_human",
        "check_attestation",
        "check_region",
        "check_method",
        "check_serial",
    ]


def test_first_failure_wins_when_several_rules_fail():
    everything_wrong = replace(
        GOOD, human_check_passed=False, authorised=False, country="MX", full_serial="x"
    )
    assert verify(everything_wrong, BOOK).outcome == "rejected-human-check"
    assert verify(replace(everything_wrong, human_check_passed=True), BOOK).outcome == (
        "rejected-attestation"
    )


def test_failed_human_check_is_rejected_with_retry():
    verdict = verify(replace(GOOD, human_check_passed=False), BOOK)
    assert verdict.outcome == "rejected-human-check"
    assert verdict.next_step == {"kind": "retry_human_check"}


@pytest.mark.parametrize(
    ("authorised", "on_site", "missing"),
    [
        (False, True, "authorised"),
        (True, False, "on_site_or_network"),
        (False, False, "authorised,on_site_or_network"),
    ],
)
def test_missing_attestation_is_rejected_and_names_what_is_missing(authorised, on_site, missing):
    facts = replace(GOOD, authorised=authorised, on_site_or_network=on_site)
    verdict = verify(facts, BOOK)
    assert verdict.outcome == "rejected-attestation"
    assert verdict.next_step == {"kind": "attestation", "missing": missing}


def test_full_attestation_passes():
    assert check_attestation(GOOD, BOOK) is None


@pytest.mark.parametrize("country", ["US", "CA", "ca"])
def test_us_and_canada_are_served(country: str):
    assert check_region(replace(GOOD, country=country), BOOK) is None


def test_mexico_is_sent_to_the_latin_america_office():
    verdict = verify(replace(GOOD, country="MX"), BOOK)
    assert verdict.outcome == "rejected-region"
    assert verdict.next_step == {
        "kind": "regional_office",
        "region": "latam",
        "office": "Latin America",
        "url": "https://la.example.invalid/",
        "email": "la@example.invalid",
    }


def test_unlisted_country_is_sent_to_the_default_office():
    verdict = verify(replace(GOOD, country="JP"), BOOK)
    assert verdict.next_step["region"] == "international"


def test_ds72_family_refuses_local_gui():
    facts = replace(GOOD, model="DS-7208HUHI-F2/N", full_serial="DS-7208HUHI-F2/N0820160816CCRR123456789WCVU")
    verdict = verify(facts, BOOK)
    assert verdict.outcome == "rejected-method"
    assert verdict.next_step == {
        "kind": "use_method",
        "methods": "sadp,ivms4200",
        "tool": "SADP tool or iVMS-4200 client",
    }
    assert "DS-72xxHUHI-Fx" in verdict.reason


@pytest.mark.parametrize("method", ["sadp", "ivms4200"])
def test_ds72_family_accepts_sadp_and_ivms(method: Method):
    facts = replace(GOOD, model="DS-7208HUHI-F2/N", full_serial="", method=method)
    assert verify(facts, BOOK).ok


def test_kit_declared_by_device_kind_refuses_local_gui():
    verdict = verify(replace(GOOD, device_kind="kit"), BOOK)
    assert verdict.outcome == "rejected-method"


def test_kit_recognised_by_model_refuses_local_gui():
    verdict = verify(replace(GOOD, model="NK42E0H-1T(WD)", device_kind="nvr"), BOOK)
    assert verdict.outcome == "rejected-method"


def test_unknown_model_refuses_local_gui_and_reason_says_so():
    facts = replace(GOOD, model="DS-2CD2143G2-I", full_serial="DS-2CD2143G2-I20220101AAWRJ12345678")
    verdict = check_method(facts, BOOK)
    assert verdict is not None and "outside the known families" in verdict.reason


def test_listed_recorder_accepts_local_gui():
    assert check_method(GOOD, BOOK) is None


def test_local_gui_with_serial_of_another_model_is_rejected():
    facts = replace(GOOD, full_serial="DS-7616NI-I2/16P1620160816CCRR123456789WCVU")
    verdict = verify(facts, BOOK)
    assert verdict.outcome == "rejected-serial"
    assert verdict.next_step == {"kind": "fix_serial", "problem": "model_mismatch"}


def test_local_gui_with_truncated_serial_is_rejected():
    facts = replace(GOOD, full_serial="DS-7608NI-I2/8P0820160816CCRR1234")
    verdict = verify(facts, BOOK)
    assert verdict.next_step == {"kind": "fix_serial", "problem": "format"}


def test_sadp_request_does_not_need_a_full_serial():
    assert check_serial(replace(GOOD, method="sadp", full_serial=""), BOOK) is None


def test_human_check_rule_passes_when_check_passed():
    assert check_human(GOOD, BOOK) is None


def test_reasons_carry_no_serial_or_model_typed_by_the_customer():
    facts = replace(GOOD, full_serial="DS-7608NI-I2/8P0820160816CCRR999999999")
    for bad in (
        replace(facts, full_serial="DS-7608NI-I2/8P0820161316CCRR999999999"),
        replace(facts, country="MX"),
        replace(facts, authorised=False),
    ):
        verdict = verify(bad, BOOK)
        assert "999999999" not in verdict.reason and "DS-7608" not in verdict.reason


def test_every_rejection_outcome_is_a_ticket_closing_outcome():
    failing = [
        replace(GOOD, human_check_passed=False),
        replace(GOOD, authorised=False),
        replace(GOOD, country="MX"),
        replace(GOOD, device_kind="kit"),
        replace(GOOD, full_serial=""),
    ]
    outcomes = {verify(facts, BOOK).outcome for facts in failing}
    assert len(outcomes) == len(failing)
    assert all(Outcome(outcome).is_rejection for outcome in outcomes)
