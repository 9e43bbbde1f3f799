"""Verification rules for a password-reset request: pure functions of the facts and the rule book.

Each rule returns `None` when it passes or a rejecting `Verdict` that tells the customer what to
do instead. `verify` runs them in a fixed order — human check, attestation, region, method, serial —
and returns the first failure, so the cheapest and least specific refusals come first and a
customer is never told to fix a serial number for a device the desk would not serve anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal

from workflow.domain.firmware import parse_firmware
from workflow.domain.model_rules import ModelRules, RegionalOffices, normalize_model
from workflow.domain.states import Outcome

Method = Literal["local_gui", "sadp", "ivms4200"]
Language = Literal["en", "fr"]

# Outcome values are the ticket's closing reasons; the states module is their single source.
REJECTED_HUMAN_CHECK: Final = Outcome.REJECTED_HUMAN_CHECK.value
REJECTED_ATTESTATION: Final = Outcome.REJECTED_ATTESTATION.value
REJECTED_REGION: Final = Outcome.REJECTED_REGION.value
REJECTED_METHOD: Final = Outcome.REJECTED_METHOD.value
REJECTED_SERIAL: Final = Outcome.REJECTED_SERIAL.value

TOOLS: Final[dict[str, str]] = {
    "sadp": "SADP tool",
    "ivms4200": "iVMS-4200 client",
    "local_gui": "the recorder's local menu",
}

# What follows the model in a full serial (see docs/rules.md): [/variant] [channels] YYYYMMDD,
# a 4-letter batch code, a 9-character serial number, an optional short suffix.
_DEVICE_PART: Final = re.compile(
    r"(?P<variant>/[A-Z0-9]{1,6})?(?P<channels>\d{2})?(?P<date>20\d{6})"
    r"(?P<batch>[A-Z]{4})(?P<number>[A-Z0-9]{9})(?P<suffix>[A-Z0-9]{0,6})",
    re.ASCII,
)

SerialProblem = Literal["model_mismatch", "format"]


@dataclass(frozen=True)
class RequestFacts:
    """What the rules need to know about one request, already parsed from the contract."""

    country: str
    language: Language
    model: str
    full_serial: str
    method: Method
    device_kind: str
    authorised: bool
    on_site_or_network: bool
    human_check_passed: bool
    #: the firmware version as the customer typed it (read only where a family's methods need it)
    firmware: str = ""


@dataclass(frozen=True)
class Verdict:
    """The rules' answer. `outcome` is the ticket's closing reason; `reason` holds no personal
    data (it reaches the audit trail); `next_step` tells the customer what to do instead."""

    ok: bool
    outcome: str | None
    reason: str
    next_step: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleBook:
    """The data the rules consult, loaded once from the data files."""

    models: ModelRules
    offices: RegionalOffices


Rule = Callable[[RequestFacts, RuleBook], Verdict | None]


def _reject(outcome: str, reason: str, **next_step: str) -> Verdict:
    return Verdict(ok=False, outcome=outcome, reason=reason, next_step=next_step)


def check_human(facts: RequestFacts, rules: RuleBook) -> Verdict | None:
    """A request must come from a person; a failed check is answered with "try again"."""
    if facts.human_check_passed:
        return None
    return _reject(REJECTED_HUMAN_CHECK, "human check failed", kind="retry_human_check")


def check_attestation(facts: RequestFacts, rules: RuleBook) -> Verdict | None:
    """Only someone authorised, at the device or on its network, may have its password reset."""
    missing = [
        name
        for name, given in (
            ("authorised", facts.authorised),
            ("on_site_or_network", facts.on_site_or_network),
        )
        if not given
    ]
    if not missing:
        return None
    return _reject(
        REJECTED_ATTESTATION,
        f"attestation not given: {', '.join(missing)}",
        kind="attestation",
        missing=",".join(missing),
    )


def check_region(facts: RequestFacts, rules: RuleBook) -> Verdict | None:
    """The NA desk serves its own countries; anyone else is pointed to their regional office."""
    if rules.offices.serves(facts.country):
        return None
    office = rules.offices.office_for(facts.country)
    return _reject(
        REJECTED_REGION,
        f"country not served by this desk (region {office.region})",
        kind="regional_office",
        region=office.region,
        office=office.office,
        url=office.url,
        email=office.email,
    )


def check_method(facts: RequestFacts, rules: RuleBook) -> Verdict | None:
    """Some families (and kits) can only be reset through SADP or iVMS-4200, never the local GUI;
    where a family's methods depend on the firmware, the version must be readable to decide."""
    family = rules.models.family_for(facts.model, facts.device_kind)
    firmware = parse_firmware(facts.firmware)
    if family is not None and family.firmware and firmware is None:
        return _reject(
            REJECTED_METHOD,
            f"firmware version unreadable: the reset methods of family {family.name} depend on it",
            kind="firmware_unreadable",
            family=family.name,
        )
    allowed = rules.models.allowed_methods(facts.model, facts.device_kind, firmware)
    if facts.method in allowed:
        return None
    subject = f"family {family.name}" if family else "models outside the known families"
    if family is not None and family.firmware:
        subject += f" with firmware {firmware}"
    return _reject(
        REJECTED_METHOD,
        f"method {facts.method} not available for {subject}",
        kind="use_method",
        methods=",".join(allowed),
        tool=" or ".join(TOOLS[m] for m in allowed),
    )


def serial_problem(full_serial: str, model: str) -> SerialProblem | None:
    """Why `full_serial` is not a full serial number of `model`, or None if it is.

    The full serial is the model exactly as on the label followed by the device part; the model
    field may omit the label's `/variant` suffix (then the serial carries it). Case and whitespace
    are ignored. The manufacture date must be a real calendar date.
    """
    serial, expected = normalize_model(full_serial), normalize_model(model)
    if not expected or not serial.startswith(expected):
        return "model_mismatch"
    rest = serial[len(expected) :]
    if not (rest[:1].isdigit() or rest.startswith("/")) or "/" in rest[1:]:
        return "model_mismatch"
    match = _DEVICE_PART.fullmatch(rest)
    if match is None or (match["variant"] and "/" in expected):
        return "format"
    raw = match["date"]
    try:
        date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return "format"
    return None


def check_serial(facts: RequestFacts, rules: RuleBook) -> Verdict | None:
    """A local-GUI reset code is derived from the full serial, so it must be complete and belong
    to the model given. SADP and iVMS-4200 resets read the device themselves: not checked."""
    if facts.method != "local_gui":
        return None
    problem = serial_problem(facts.full_serial, facts.model)
    if problem is None:
        return None
    reason = {
        "model_mismatch": "full serial does not start with the model given",
        "format": "full serial is incomplete or malformed",
    }[problem]
    return _reject(REJECTED_SERIAL, reason, kind="fix_serial", problem=problem)


RULES: Final[tuple[Rule, ...]] = (
    check_human,
    check_attestation,
    check_region,
    check_method,
    check_serial,
)
"""The documented order; `verify` stops at the first failure."""


def verify(facts: RequestFacts, rules: RuleBook) -> Verdict:
    """Apply `RULES` in order and return the first rejection, or a passing verdict."""
    for rule in RULES:
        verdict = rule(facts, rules)
        if verdict is not None:
            return verdict
    return Verdict(ok=True, outcome=None, reason="all checks passed")
