"""The embedded human-check verifier and the meaning of a result (no network)."""

from __future__ import annotations

import pytest

from workflow.adapters.human_check import (
    HumanCheckResult,
    HumanCheckUnavailable,
    HumanCheckVerifier,
    LocalVerifier,
)


@pytest.mark.parametrize("token", ["local-ok", "pass", "pass-123"])
def test_local_verifier_passes_demo_tokens(token: str):
    result = LocalVerifier().verify(token, None)
    assert result.passed and not result.transient


@pytest.mark.parametrize("token", ["fail", "fail-bot", "", "local-ok ", "PASS", "anything"])
def test_local_verifier_definitely_refuses_other_tokens(token: str):
    result = LocalVerifier().verify(token, "127.0.0.1")
    assert not result.passed and not result.transient


def test_local_verifier_can_simulate_an_outage():
    result = LocalVerifier().verify("unavailable-now", None)
    assert not result.passed and result.transient


def test_local_verifier_satisfies_the_port():
    verifier: HumanCheckVerifier = LocalVerifier()
    assert verifier.verify("local-ok", None).passed


def test_transient_result_refuses_to_be_read_as_a_failure():
    with pytest.raises(HumanCheckUnavailable, match="time-out") as raised:
        HumanCheckResult(passed=False, detail="time-out", transient=True).require_definite()
    assert raised.value.transient  # consumers retry transient workflow errors


def test_definite_results_read_as_their_outcome():
    assert HumanCheckResult(passed=True, detail="ok").require_definite() is True
    assert HumanCheckResult(passed=False, detail="no").require_definite() is False
