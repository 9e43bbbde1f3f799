"""Each verification rule's finding on one ticket, for the agents' ticket page.

Verification stores only its verdict (the audit row of ``verify`` or ``reject`` and its reason),
so the page runs every rule again on the request as stored, with the rule book in force, and
shows each one's answer beside the verdict given at intake. The human check cannot be run again
(its token was single-use): its recorded result is read from the inbox row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import select

from workflow.adapters.db import Database
from workflow.adapters.rules_file import load_rule_book
from workflow.adapters.tables import AUDIT, INBOX
from workflow.domain.rules import RULES, RequestFacts, RuleBook

#: what each rule checks, as the page names it (docs/rules.md)
CHECKS = {"check_human": "Human check", "check_attestation": "Attestation",
          "check_region": "Country served", "check_method": "Reset method for the model",
          "check_serial": "Full serial matches the model"}


@dataclass(frozen=True)
class Finding:
    rule: str
    label: str
    passed: bool
    #: why it failed (no personal data), None when it passed
    reason: str | None


@dataclass(frozen=True)
class Verification:
    #: the verdict recorded at intake (the verify or reject move's reason)
    at_intake: str | None
    #: each rule now, in the order verification runs them; empty when the request's data is
    #: gone (anonymised) or incomplete
    findings: list[Finding]


def verification_of(db: Database, ticket_id: str, data: Mapping[str, Any],
                    rules: RuleBook | None = None) -> Verification:
    with db.reader.begin() as conn:
        verdict = conn.execute(
            select(AUDIT.c.reason).where(AUDIT.c.ticket_id == ticket_id,
                                         AUDIT.c.trigger.in_(("verify", "reject")))
            .order_by(AUDIT.c.id).limit(1)).scalar()
        human = conn.execute(select(INBOX.c.human_check).where(INBOX.c.ticket_id == ticket_id)
                             .limit(1)).scalar()
    facts = _facts(data, human != "failed")
    if facts is None:
        return Verification(verdict, [])
    book = rules or _packaged_rules()
    found = []
    for rule in RULES:
        failed = rule(facts, book)
        name = rule.__name__
        found.append(Finding(name, CHECKS.get(name, name), failed is None,
                             failed.reason if failed else None))
    return Verification(verdict, found)


@cache
def _packaged_rules() -> RuleBook:
    return load_rule_book()


def _facts(data: Mapping[str, Any], human_check_passed: bool) -> RequestFacts | None:
    try:
        requester, device, attest = data["requester"], data["device"], data["attestation"]
        return RequestFacts(
            country=str(requester["country"]), language=requester["language"],
            model=str(device["model_number"]), full_serial=str(device["serial_number"]),
            method=data["reset_method"], device_kind=str(device["kind"]),
            authorised=bool(attest["authorised_and_responsible"]),
            on_site_or_network=bool(attest["on_site_or_network"]),
            human_check_passed=human_check_passed,
            firmware=str(device.get("firmware_version", "")))
    except (KeyError, TypeError):
        return None
