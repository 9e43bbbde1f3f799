"""A valid `request.submitted.v1` event to start tests and producer examples from.

Overrides reach nested fields with `__`: `sample_request(data__requester__email="x@y.ca")`;
an override of `DELETE` removes the field, so a test can build a message that lacks it
(None stays: it is JSON null).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Any, Final

from schemas.requests_v1 import REQUEST_SUBMITTED_V1

SAMPLE_SOURCE: Final = "urn:resetdesk:sample"
SAMPLE_MODEL: Final = "DS-7608NI-I2/8P"
SAMPLE_SERIAL_SUFFIX: Final = "0820200115CCRR123456789WCVU"
PNG_1X1: Final = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
"""A real 1x1 PNG, for export tests."""


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


DELETE: Final = _Delete()


def full_serial(model: str, serial: str) -> str:
    """The full serial as SADP and the label show it: model immediately followed by serial,
    e.g. DS-7208HUHI-F2/N + 0820160816CCRR123456789WCVU. Idempotent on a full serial."""
    if not model or not serial or any(c.isspace() for c in model + serial):
        raise ValueError("model and serial must be non-empty and contain no spaces")
    return serial if serial.startswith(model) else model + serial


def unique_serial(model: str = SAMPLE_MODEL) -> str:
    """A full serial of ``model`` that the serial rule accepts, with a random 9-digit number:
    requests built with it are never duplicates of an open ticket."""
    digits = "".join(secrets.choice("0123456789") for _ in range(9))
    return full_serial(model, f"0820200115CCRR{digits}WCVU")


def _apply(target: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        *parents, leaf = key.split("__")
        node = target
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return target


def sample_request_data(**overrides: Any) -> dict[str, Any]:
    """The `data` of a valid request: a US installer, an NVR, reset via SADP, no export.

    Its serial is fixed (use `unique_serial()` for one per request) and its human-check token
    starts with ``pass``, which the default (local) verifier accepts."""
    data: dict[str, Any] = {
        "requester": {
            "name": "Dana Whitfield",
            "email": "dana.whitfield@example.com",
            "phone": "+15035550147",
            "company": "Cascade Security Installs LLC",
            "country": "US",
            "language": "en",
            "customer_type": "installer",
            "purchased_from": "Northwest Security Supply, Portland OR",
        },
        "device": {
            "model_number": SAMPLE_MODEL,
            "serial_number": full_serial(SAMPLE_MODEL, SAMPLE_SERIAL_SUFFIX),
            "firmware_version": "V4.62.210 build 220607",
            "kind": "nvr",
            "current_date": "2024-05-01",
            "start_time": "2024-04-28 09:12:44",
        },
        "reset_method": "sadp",
        "attestation": {
            "authorised_and_responsible": True,
            "on_site_or_network": True,
            "terms_version": "2024-03",
            "accepted_at": "2024-05-01T17:30:00Z",
        },
        "human_check_token": "pass-sample-human-check",
        "note": "Locked out after the previous installer left.",
    }
    return _apply(data, overrides)


def sample_export(kind: str = "qr_photo") -> dict[str, Any]:
    """A valid export object: a 1x1 PNG photo, or a tiny SADP-style XML file."""
    if kind == "xml":
        content = b'<?xml version="1.0" encoding="UTF-8"?>\n<ResetRequest/>\n'
        return {
            "kind": "xml",
            "media_type": "application/xml",
            "filename": "DeviceKey.xml",
            "content_base64": base64.b64encode(content).decode("ascii"),
        }
    return {
        "kind": "qr_photo",
        "media_type": "image/png",
        "filename": "qr.png",
        "content_base64": base64.b64encode(PNG_1X1).decode("ascii"),
    }


def sample_request(**overrides: Any) -> dict[str, Any]:
    """A valid structured-mode event dict with a fresh id on each call unless `id` is given."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": SAMPLE_SOURCE,
        "type": REQUEST_SUBMITTED_V1,
        "time": "2024-05-01T17:30:05Z",
        "datacontenttype": "application/json",
        "data": sample_request_data(),
    }
    return _apply(event, overrides)
