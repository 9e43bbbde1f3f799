"""The one retry policy: the inbox workers, the embedded deliveries and the broker's retry
queues read the same attempts and delays from it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from consumers.amqp.main import amqp_retry_delays
from consumers.amqp.retry import next_delay
from consumers.topology import VERIFICATION
from workflow.domain.retry import RetryPolicy


def test_delays_follow_the_attempts_and_the_last_one_repeats() -> None:
    policy = RetryPolicy(5, (1.0, 5.0))
    assert [policy.next_delay(n) for n in range(1, 6)] == [1.0, 5.0, 5.0, 5.0, None]
    assert policy.exhausted(5) and not policy.exhausted(4)


def test_no_delays_configured_waits_one_second() -> None:
    assert RetryPolicy(3, ()).next_delay(1) == 1.0


def test_one_attempt_allowed_means_no_retry() -> None:
    assert RetryPolicy(1, (1.0,)).next_delay(1) is None
    assert RetryPolicy(1, (1.0,)).broker_delays() == ()


@pytest.mark.parametrize("bad", [{"max_attempts": 0}, {"delays_seconds": (-1.0,)}])
def test_nonsense_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**bad)  # type: ignore[arg-type]


def test_the_settings_become_one_broker_retry_queue_per_retry_in_whole_seconds() -> None:
    assert amqp_retry_delays([0.2, 1.6, 30.0], 6) == (1, 2, 30, 30, 30)
    assert amqp_retry_delays([], 3) == (1, 1)


def test_the_broker_queues_give_back_the_same_policy() -> None:
    delays = RetryPolicy(4, (1.0, 5.0, 30.0)).broker_delays()
    policy = RetryPolicy.of_broker(delays)
    assert policy.max_attempts == 4
    queue = replace(VERIFICATION, retry_delays=delays)
    assert [next_delay(queue, retries) for retries in range(4)] == [1, 5, 30, None]
