"""Remote-session codes and the rules around them: how they look, how they are kept, how long
they live, and how many wrong guesses are tolerated.

A code is read out over the phone, so it uses an alphabet without look-alikes (no 0/O, 1/I/L)
and is grouped ``XXXXX-XXXXX``: 10 characters of 31 give 49.5 bits. It is kept only as an
HMAC-SHA256 under the deployment's secret key, bound to the ticket id. A keyed hash rather than
argon2 because the code is random, not a chosen password: a dictionary does not apply, the key
stops anyone holding only a database copy, and a code lives 15 minutes, so a slow hash would
add nothing but CPU per customer attempt (an easy denial of service on the verify endpoint).
Online guessing is what is left, and the throttle (``workflow.domain.throttle``) bounds it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from workflow.domain.throttle import RateLimit

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 10
GROUP = 5
MIN_BITS = 40


def entropy_bits(alphabet: str = ALPHABET, length: int = LENGTH) -> float:
    """Bits of a code whose characters are drawn uniformly and independently from ``alphabet``."""
    return length * math.log2(len(set(alphabet)))


def new_code() -> str:
    """A fresh code from the OS's CSPRNG, grouped for reading aloud: ``XXXXX-XXXXX``."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{body[:GROUP]}-{body[GROUP:]}"


def normalise(typed: str) -> str | None:
    """The code as typed (any case, spaces or dashes), or None when it cannot be a code."""
    body = "".join(ch for ch in typed.upper() if ch not in " -\t")
    if len(body) != LENGTH or any(ch not in ALPHABET for ch in body):
        return None
    return body


def code_hash(secret: bytes, ticket_id: str, code: str) -> str:
    """What is stored: an HMAC of the normalised code, bound to its ticket (a stored hash cannot
    be replayed for another ticket). Raises ``ValueError`` for something that is not a code."""
    body = normalise(code)
    if body is None:
        raise ValueError("not a session code")
    message = f"resetdesk-session-code-v1|{ticket_id}|{body}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def code_matches(secret: bytes, ticket_id: str, typed: str, stored_hash: str) -> bool:
    """Constant-time comparison of what the customer typed with the stored hash."""
    if normalise(typed) is None:
        return False
    return hmac.compare_digest(code_hash(secret, ticket_id, typed), stored_hash)


def is_live(expires_at: datetime, used_at: datetime | None, revoked_at: datetime | None,
            now: datetime) -> bool:
    return used_at is None and revoked_at is None and now < expires_at


@dataclass(frozen=True)
class ThrottlePolicy:
    """``max_failures`` wrong attempts within ``window`` lock the key for ``lockout``."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)

    @property
    def rule(self) -> RateLimit:
        """The same policy as the shared throttle counts it: each wrong attempt is a hit."""
        return RateLimit(self.max_failures, self.window, self.lockout)


@dataclass(frozen=True)
class SessionPolicy:
    """Lifetimes and limits of the remote-session path; ``from_options`` reads the deployment's
    settings (names in ``OPTION_NAMES``) and keeps these defaults for the rest."""

    code_ttl: timedelta = timedelta(minutes=15)
    #: between reading the terms and clicking Agree
    consent_ttl: timedelta = timedelta(minutes=15)
    #: the customer's session token (steps, end)
    session_token_ttl: timedelta = timedelta(hours=8)
    idle: timedelta = timedelta(minutes=30)
    throttle: ThrottlePolicy = ThrottlePolicy()

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SessionPolicy:
        def minutes(name: str, default: timedelta) -> timedelta:
            value = options.get(name)
            return default if value is None else timedelta(minutes=float(value))

        d = cls()
        return cls(
            code_ttl=minutes("session_code_minutes", d.code_ttl),
            consent_ttl=minutes("session_consent_minutes", d.consent_ttl),
            session_token_ttl=minutes("session_token_minutes", d.session_token_ttl),
            idle=minutes("session_idle_minutes", d.idle),
            throttle=ThrottlePolicy(
                max_failures=int(options.get("session_max_failures") or d.throttle.max_failures),
                window=minutes("session_failure_window_minutes", d.throttle.window),
                lockout=minutes("session_lockout_minutes", d.throttle.lockout)),
        )


OPTION_NAMES = ("session_code_minutes", "session_consent_minutes", "session_token_minutes",
                "session_idle_minutes", "session_max_failures", "session_failure_window_minutes",
                "session_lockout_minutes")
