"""Human-check (captcha) verification behind one small port.

Semantics, chosen so that our own outage never rejects a good request:
- `verify` never raises for transport trouble; it returns a `HumanCheckResult`.
- `passed=True`: the provider vouched for the token.
- `passed=False, transient=False`: a definite failure (bad, expired or reused token) — reject.
- `passed=False, transient=True`: we could not get an answer (time-out, connection refused, 5xx or
  other non-200, unreadable JSON) or the provider says our own request was wrong (secret missing or
  invalid). The caller must retry later, never reject. `require_definite()` turns that into a
  `HumanCheckUnavailable` exception for callers that map exceptions to retries.

Siteverify tokens are single-use and short-lived: verify at intake, while the token is fresh; a
retry minutes later may see `timeout-or-duplicate`, which is (correctly) a definite failure.
"""

from __future__ import annotations

import json

import httpx

from workflow.service.human_check import (
    HumanCheckResult,
    HumanCheckUnavailable,
    HumanCheckVerifier,
)

__all__ = ["HumanCheckResult", "HumanCheckUnavailable", "HumanCheckVerifier", "LocalVerifier",
           "SiteverifyVerifier"]

# Error codes that blame our side, not the customer's token (reCAPTCHA / Turnstile / hCaptcha).
_OUR_FAULT: frozenset[str] = frozenset(
    {"missing-input-secret", "invalid-input-secret", "bad-request", "internal-error"}
)


class LocalVerifier:
    """The embedded/demo default: no network, proves nothing about humans.

    `local-ok` or any token starting `pass` passes; a token starting `unavailable` is transient
    (so a demo can drive the retry path); anything else, e.g. `fail…` or empty, definitely fails.
    """

    #: the same token may be checked again (a redelivery can verify it inside its transaction)
    single_use = False

    def verify(self, token: str, remote_ip: str | None) -> HumanCheckResult:
        if token == "local-ok" or token.startswith("pass"):
            return HumanCheckResult(passed=True, detail="local: accepted")
        if token.startswith("unavailable"):
            return HumanCheckResult(passed=False, detail="local: unavailable", transient=True)
        return HumanCheckResult(passed=False, detail="local: refused")


class SiteverifyVerifier:
    """A siteverify-style provider: POST form `secret`, `response`, `remoteip`; JSON answer
    `{"success": bool, "error-codes": [...]}`. Holds one HTTP client; call `close()` when done."""

    single_use = True

    def __init__(
        self,
        url: str,
        secret: str,
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._secret = secret
        self._client = httpx.Client(timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SiteverifyVerifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def verify(self, token: str, remote_ip: str | None) -> HumanCheckResult:
        if not token:
            return HumanCheckResult(passed=False, detail="siteverify: empty token")
        form = {"secret": self._secret, "response": token}
        if remote_ip:
            form["remoteip"] = remote_ip
        try:
            response = self._client.post(self._url, data=form)
        except httpx.TimeoutException:
            return _transient("time-out")
        except httpx.HTTPError as exc:
            return _transient(f"transport error {type(exc).__name__}")
        if response.status_code != 200:
            return _transient(f"HTTP {response.status_code}")
        return _interpret(response.content)


def _transient(why: str) -> HumanCheckResult:
    return HumanCheckResult(passed=False, detail=f"siteverify: {why}", transient=True)


def _interpret(body: bytes) -> HumanCheckResult:
    try:
        answer = json.loads(body)
    except ValueError:
        return _transient("unreadable JSON")
    if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
        return _transient("answer without a boolean 'success'")
    codes = answer.get("error-codes") or []
    codes = [str(c) for c in codes] if isinstance(codes, list) else [str(codes)]
    if answer["success"]:
        return HumanCheckResult(passed=True, detail="siteverify: success")
    detail = f"siteverify: failed ({', '.join(codes) or 'no error code'})"
    if _OUR_FAULT.intersection(codes):
        return HumanCheckResult(passed=False, detail=detail, transient=True)
    return HumanCheckResult(passed=False, detail=detail)
