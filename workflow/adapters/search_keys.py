"""The ticket's search columns and the agent's query, normalised by the same functions, so that
an indexed prefix match on a column finds what was typed.

* email: trimmed and lower-cased;
* phone: the digits only, *last digit first*, so a prefix match on the column is a suffix match
  on the number: "503 555 0147" finds "+15035550147" (the form stores E.164, agents type the
  national number);
* serial: upper-cased without blanks and without the model prefix, i.e. the S/N the device label
  shows (the full serial, model first, is ``serial_key``, matched exactly);
* reference: ``RD-XXXX-XXXX`` upper-cased, dashes optional when typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

EMAIL_MAX, PHONE_MAX, SERIAL_MAX, METHOD_MAX = 254, 16, 128, 24
_PHONE_QUERY = re.compile(r"^[+\d\s().-]+$")
_REFERENCE = re.compile(r"^(?:RD)?-?([A-Z0-9]{4})-?([A-Z0-9]{4})$")
MIN_PREFIX = 3


def email_key(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()[:EMAIL_MAX]


def phone_key(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    digits = "".join(c for c in value if c.isdigit())
    return digits[::-1][:PHONE_MAX] or None


def serial_text(value: object) -> str | None:
    """Upper case without blanks: how ``serial_key`` is made from a full serial."""
    if not isinstance(value, str):
        return None
    return "".join(value.split()).upper() or None


def label_serial(full_serial: object, model: object) -> str | None:
    serial = serial_text(full_serial)
    prefix = serial_text(model)
    if serial and prefix and serial.startswith(prefix) and len(serial) > len(prefix):
        serial = serial[len(prefix):]
    return serial[:SERIAL_MAX] if serial else None


def _part(data: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    part = data.get(section)
    return part if isinstance(part, Mapping) else {}


def columns(data: Mapping[str, Any]) -> dict[str, str | None]:
    """The search columns (and ``method``) of a ticket whose request is ``data``; all None for
    an anonymised request, which keeps no contact or serial."""
    requester, device = _part(data, "requester"), _part(data, "device")
    method = data.get("reset_method")
    return {
        "search_email": email_key(requester.get("email")),
        "search_phone": phone_key(requester.get("phone")),
        "search_serial": label_serial(device.get("serial_number"), device.get("model_number")),
        "method": method[:METHOD_MAX] if isinstance(method, str) else None,
    }


def reference_key(query: str) -> str | None:
    match = _REFERENCE.match("".join(query.split()).upper())
    return f"RD-{match.group(1)}-{match.group(2)}" if match else None


def query_keys(query: str) -> dict[str, str]:
    """What an agent's search text can be, per column: ``reference`` and ``serial_key`` exact,
    the others as prefixes. Empty when the text is too short to search by."""
    text = query.strip()
    keys: dict[str, str] = {}
    if ref := reference_key(text):
        keys["reference"] = ref
    emailish = "@" in text or (len(text) >= MIN_PREFIX and not any(c.isspace() for c in text))
    if emailish and (email := email_key(text)):
        keys["search_email"] = email
    if _PHONE_QUERY.match(text) and (phone := phone_key(text)) and len(phone) >= 4:
        keys["search_phone"] = phone
    if "@" not in text and (serial := serial_text(text)) and len(serial) >= MIN_PREFIX:
        keys["serial_key"] = serial
        keys["search_serial"] = serial
    return keys
