"""Valid requests for the running system, each with its own serial unless told otherwise."""

from __future__ import annotations

from typing import Any

from schemas.sample import SAMPLE_MODEL, sample_request, unique_serial

__all__ = ["LOCAL_SOURCE", "request", "unique_serial"]

LOCAL_SOURCE = "urn:resetdesk:local"


def request(**overrides: Any) -> dict[str, Any]:
    overrides.setdefault("source", LOCAL_SOURCE)
    overrides.setdefault("data__device__serial_number", unique_serial(
        overrides.get("data__device__model_number", SAMPLE_MODEL)))
    return sample_request(**overrides)
