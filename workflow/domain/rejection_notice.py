"""What a customer is told to do next when staff reject their request.

The verification worker's rejections carry the failing rule's ``next_step`` (the regional office,
the methods the model allows, what is wrong with the serial) into the rejection email. A staff
rejection picks an outcome instead of failing a rule, so the same next step is worked out here
from the request as the ticket keeps it: the customer reads the same email whoever rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow.domain.rules import TOOLS, RuleBook, serial_problem
from workflow.domain.states import Outcome


def _text(data: Mapping[str, Any], group: str, name: str) -> str:
    part = data.get(group)
    value = part.get(name) if isinstance(part, Mapping) else None
    return value if isinstance(value, str) else ""


def next_step(outcome: Outcome, data: Mapping[str, Any], rules: RuleBook) -> dict[str, str]:
    """The ``next_*`` context of the rejection email for ``outcome`` (without the prefix)."""
    if outcome is Outcome.REJECTED_REGION:
        office = rules.offices.office_for(_text(data, "requester", "country"))
        return {"kind": "regional_office", "region": office.region, "office": office.office,
                "url": office.url, "email": office.email}
    if outcome is Outcome.REJECTED_METHOD:
        allowed = rules.models.allowed_methods(_text(data, "device", "model_number"),
                                               _text(data, "device", "kind"))
        return {"kind": "use_method", "methods": ",".join(allowed),
                "tool": " or ".join(TOOLS[m] for m in allowed)}
    if outcome is Outcome.REJECTED_SERIAL:
        problem = serial_problem(_text(data, "device", "serial_number"),
                                 _text(data, "device", "model_number"))
        return {"kind": "fix_serial", "problem": problem or "format"}
    if outcome is Outcome.REJECTED_HUMAN_CHECK:
        return {"kind": "retry_human_check"}
    if outcome is Outcome.REJECTED_ATTESTATION:
        return {"kind": "attestation"}
    return {}
