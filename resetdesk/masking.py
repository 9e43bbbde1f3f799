"""Personal data and secrets out of log text: emails, phone numbers, device serials, session
codes, tokens and keys.

Log lines end up in terminals, files and log stores that keep them longer than the tickets
(docs/privacy.md): an exception's text (SQLAlchemy prints a statement's parameters, a payload
included) must not carry a customer's address or serial there. Regexes, because the text is
free-form; each keeps just enough to tell two values apart when reading a log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

MASK: Final = "***"

#: key=value, key: value, "key": "value" for names whose value is always secret or personal
_KEYED = re.compile(
    r"""(?ix)
    (?P<key>["']?\b(?:password|passwd|secret(?:_key)?|api_key|token|access_token|
        human_check_token|authorization|session_code|serial(?:_number|_key)?|
        open_serial_key)["']?\s*[:=]\s*)
    (?P<value>"[^"]*"|'[^']*'|(?:bearer\s+)?[^\s"',;}&)]+)""")
#: free-text personal fields, only in their quoted (JSON or repr) form: "name": "Dana Whitfield"
_QUOTED = re.compile(
    r"""(?P<key>(?P<q>["'])(?:name|company|purchased_from|note|address)(?P=q)\s*:\s*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
#: user:password@ in a URL (broker and database URLs)
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^:/\s@]+:)[^@\s/]+@", re.I)
_BEARER = re.compile(r"(?P<head>\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
#: producer (rdp_) and agent (rda_) tokens, and signed customer links (body.mac)
_TOKEN = re.compile(r"\b(?P<head>rd[pa]_)[A-Za-z0-9_-]{8,}")
_LINK_PATH = re.compile(r"(?P<head>/customer/[a-z_]+/)[A-Za-z0-9_.=-]{16,}")
_SIGNED = re.compile(r"(?<![\w.-])[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{43}(?![\w.-])")
_EMAIL = re.compile(r"(?<![\w.+-])(?P<first>[A-Za-z0-9])[A-Za-z0-9._%+-]*@(?P<domain>[A-Za-z0-9-]+"
                    r"(?:\.[A-Za-z0-9-]+)+)")
#: a device part (docs/rules.md): [channels] 20YYMMDD, 4-letter batch, 9-character number,
#: a short suffix; with whatever model or word is glued in front of it
_SERIAL = re.compile(r"(?<![\w/-])(?P<word>[\w/-]*?)(?:\d{2})?\s?20\d{6}\s?[A-Za-z]{4}\s?"
                     r"[A-Za-z0-9]{9}[A-Za-z0-9]{0,6}(?![\w])")
_HEX_ID = re.compile(r"[0-9a-f-]+")
#: remote-session codes: XXXXX-XXXXX from the look-alike-free alphabet
_SESSION_CODE = re.compile(r"(?<![\w-])[A-HJKMNP-Z2-9]{5}-[A-HJKMNP-Z2-9]{5}(?![\w-])")
#: +international, or North-American (503) 555-0147 / 503-555-0147 / 503.555.0147
_PHONE = re.compile(r"(?<![\w+-])(?:\+\d[\d ().-]{6,18}\d|\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4})"
                    r"(?![\w-])")


def _keyed(m: re.Match[str]) -> str:
    value = m.group("value")
    quote = value[0] if value[0] in "\"'" else ""
    return f"{m.group('key')}{quote}{MASK}{quote}"


def _serial(m: re.Match[str]) -> str:
    if _HEX_ID.fullmatch(m.group(0)):  # a message or ticket id that merely looks the part
        return m.group(0)
    return m.group(0)[:4] + "…"


def _phone(m: re.Match[str]) -> str:
    digits = [c for c in m.group(0) if c.isdigit()]
    return "***-***-" + "".join(digits[-4:])


#: (pattern, replacement, what the lower-cased text must hold for the pattern to apply at all):
#: most lines hold none of it, and a substring test costs far less than a regex scan
_STEPS: Final[tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str], tuple[str, ...]],
                    ...]] = (
    (_URL_PASSWORD, rf"\g<head>{MASK}@", ("://",)),
    (_BEARER, rf"\g<head>{MASK}", ("bearer",)),
    (_KEYED, _keyed, ("pass", "secret", "api_key", "token", "authorization", "session_code",
                      "serial")),
    (_QUOTED, _keyed, ("name", "company", "purchased_from", "note", "address")),
    (_TOKEN, rf"\g<head>{MASK}", ("rdp_", "rda_")),
    (_LINK_PATH, rf"\g<head>{MASK}", ("/customer/",)),
    (_SIGNED, MASK, (".",)),
    (_EMAIL, rf"\g<first>{MASK}@\g<domain>", ("@",)),
    (_SERIAL, _serial, ("20",)),
    (_SESSION_CODE, "*****-*****", ("-",)),
    (_PHONE, _phone, ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")),
)


def mask(text: str) -> str:
    """``text`` with every value that looks personal or secret masked."""
    lower = text.lower()
    for pattern, replacement, needs in _STEPS:
        if any(n in lower for n in needs):
            text = pattern.sub(replacement, text)
    return text
