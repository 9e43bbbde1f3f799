"""The human-check (captcha) port: what intake and the verification workers ask, whatever the
provider. Implementations live in ``workflow.adapters.human_check``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, overload

from workflow.domain.errors import WorkflowError


class HumanCheckUnavailable(WorkflowError):
    """The human check could not be decided now; retry the request later."""

    transient = True


@dataclass(frozen=True)
class HumanCheckResult:
    """One answer; `detail` is for logs and the audit trail (no token, no IP)."""

    passed: bool
    detail: str
    transient: bool = False

    def require_definite(self) -> bool:
        """`passed`, or raise `HumanCheckUnavailable` if the answer was transient."""
        if self.transient:
            raise HumanCheckUnavailable(self.detail)
        return self.passed


class HumanCheckVerifier(Protocol):
    """Contract: return a result for every token; never raise for network or provider trouble
    (report it as `transient=True`); never return `passed=True` with `transient=True`.

    `single_use`: True when a token can be checked only once (real providers): its result must
    then be committed on its own before anything else is done with the request."""

    single_use: bool

    def verify(self, token: str, remote_ip: str | None) -> HumanCheckResult: ...


@overload
def settle_human_check(verifier: HumanCheckVerifier, token: str, remote_ip: str | None, *,
                       stored: str | None = None, may_defer: Literal[False]) -> str: ...
@overload
def settle_human_check(verifier: HumanCheckVerifier, token: str, remote_ip: str | None, *,
                       stored: str | None = None, may_defer: bool) -> str | None: ...
def settle_human_check(verifier: HumanCheckVerifier, token: str, remote_ip: str | None, *,
                       stored: str | None = None, may_defer: bool) -> str | None:
    """The human check's result, ``passed`` or ``failed``: the stored one when the request has
    one, else the verifier's answer (asked once: the token may be single-use). A transient
    answer is never a rejection: with ``may_defer`` it is None (stored as unknown, the worker
    asks again later), else ``HumanCheckUnavailable`` (retry the work)."""
    if stored is not None:
        return stored
    result = verifier.verify(token, remote_ip)
    if result.transient:
        if may_defer:
            return None
        raise HumanCheckUnavailable(f"human check unavailable: {result.detail}")
    return "passed" if result.passed else "failed"
