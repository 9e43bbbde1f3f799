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
from dataclasses import dataclass
from datetime import datetime, timedelta

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

    def __post_init__(self) -> None:
        if self.max_failures < 1 or min(self.window, self.lockout) <= timedelta(0):
            raise ValueError("session code throttle: max_failures >= 1, positive window and "
                             "lockout")

    @property
    def rule(self) -> RateLimit:
        """The same policy as the shared throttle counts it: each wrong attempt is a hit."""
        return RateLimit(self.max_failures, self.window, self.lockout)


@dataclass(frozen=True)
class SessionPolicy:
    """Lifetimes and limits of the remote-session path (a deployment's come from its
    ``sessions`` settings)."""

    code_ttl: timedelta = timedelta(minutes=15)
    #: between reading the terms and clicking Agree
    consent_ttl: timedelta = timedelta(minutes=15)
    #: the customer's session token (steps, end)
    session_token_ttl: timedelta = timedelta(hours=8)
    idle: timedelta = timedelta(minutes=30)
    throttle: ThrottlePolicy = ThrottlePolicy()

    def __post_init__(self) -> None:
        if min(self.code_ttl, self.consent_ttl, self.session_token_ttl, self.idle) <= timedelta(0):
            raise ValueError("session lifetimes (code, consent, token, idle) must be positive")
