"""Signed, expiring links for customers (confirm a key, move a callback …).

A link names a ticket, an action and an expiry, signed with HMAC-SHA256 under the deployment's
secret key; nothing is stored. Links only open pages: the action itself needs a POST, because
mail scanners follow links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from workflow.domain.errors import WorkflowError


class InvalidLink(WorkflowError):
    """Tampered, malformed or expired; the customer is told the same in every case."""


@dataclass(frozen=True)
class LinkClaim:
    ticket_id: str
    action: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, b"resetdesk-link-v1|" + body, hashlib.sha256).digest()


def sign(secret: bytes, ticket_id: str, action: str, expires_at: datetime) -> str:
    if ":" in ticket_id or ":" in action:
        raise ValueError("ticket id and action may not contain ':'")
    body = f"{ticket_id}:{action}:{int(expires_at.timestamp())}".encode()
    return f"{_b64(body)}.{_b64(_mac(secret, body))}"


def verify(secret: bytes, token: str, now: datetime, *, action: str | None = None) -> LinkClaim:
    """The claim of a genuine, unexpired link; the signature is checked before anything in the
    body is believed (a forged body may hold any text, an expiry past year 9999 included)."""
    try:
        body_b64, mac_b64 = token.split(".", 1)
        body = _unb64(body_b64)
        if not hmac.compare_digest(_unb64(mac_b64), _mac(secret, body)):
            raise ValueError("bad signature")
        ticket_id, claimed, expiry = body.decode().split(":")
        expires_at = datetime.fromtimestamp(int(expiry), UTC)
    except (ValueError, UnicodeDecodeError, OverflowError, OSError):
        raise InvalidLink("this link is not valid") from None
    if action is not None and claimed != action:
        raise InvalidLink("this link is not valid")
    if now >= expires_at:
        raise InvalidLink("this link has expired")
    return LinkClaim(ticket_id, claimed, expires_at)
