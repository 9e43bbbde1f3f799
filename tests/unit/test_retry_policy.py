"""The one retry policy: the same attempts and delays for the embedded workers and, as retry
queues, for the AMQP consumers."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from consumers.amqp.retry import next_delay
from consumers.topology import VERIFICATION
from workflow.domain.retry import RetryPolicy


def test_attempts_and_delays_with_the_last_delay_repeated() -> None:
    policy = RetryPolicy(max_attempts=4, delays=(1.0, 5.0))
    assert [policy.may_retry(n) for n in (1, 2, 3, 4)] == [True, True, True, False]
    assert [policy.delay_after(n) for n in (1, 2, 3)] == [
        timedelta(seconds=1), timedelta(seconds=5), timedelta(seconds=5)]


def test_the_broker_gets_one_whole_second_queue_per_retry() -> None:
    assert RetryPolicy(5, (0.2, 2.6, 30.0)).queue_delays() == (1, 3, 30, 30)
    assert RetryPolicy(1, (5.0,)).queue_delays() == ()
    assert RetryPolicy().queue_delays() == (1, 5, 30, 120)


@pytest.mark.parametrize("bad", [{"max_attempts": 0}, {"delays": ()}, {"delays": (1.0, -1.0)}])
def test_nonsense_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**bad)  # type: ignore[arg-type]


def test_next_delay_follows_the_attempts_and_the_last_one_repeats() -> None:
    policy = RetryPolicy(5, (1.0, 5.0))
    assert [policy.next_delay(n) for n in range(1, 6)] == [1.0, 5.0, 5.0, 5.0, None]
    assert policy.exhausted(5) and not policy.exhausted(4)


def test_the_broker_queues_give_back_the_same_policy() -> None:
    delays = RetryPolicy(4, (1.0, 5.0, 30.0)).queue_delays()
    policy = RetryPolicy.of_broker(delays)
    assert policy.max_attempts == 4
    queue = replace(VERIFICATION, retry_delays=delays)
    assert [next_delay(queue, retries) for retries in range(4)] == [1, 5, 30, None]
