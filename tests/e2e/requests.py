"""Valid requests for the running system, each with its own serial unless told otherwise."""

from __future__ import annotations

import secrets
from typing import Any

from schemas.sample import SAMPLE_MODEL, full_serial, sample_request

LOCAL_SOURCE = "urn:resetdesk:local"


def unique_serial(model: str = SAMPLE_MODEL) -> str:
    digits = "".join(secrets.choice("0123456789") for _ in range(9))
    return full_serial(model, f"0820200115CCRR{digits}WCVU")


def request(**overrides: Any) -> dict[str, Any]:
    overrides.setdefault("source", LOCAL_SOURCE)
    overrides.setdefault("data__device__serial_number", unique_serial(
        overrides.get("data__device__model_number", SAMPLE_MODEL)))
    return sample_request(**overrides)
