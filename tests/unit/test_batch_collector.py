"""Group commit's collector (consumers/amqp/batching.py): size and window, with a fake clock
and a scripted source — no threads, no sleeping."""

from __future__ import annotations

from dataclasses import dataclass, field

from consumers.amqp.batching import collect


@dataclass
class Arrivals:
    """Items arriving at given instants; ``take(timeout)`` advances the fake clock as a blocking
    queue would: to the next arrival if it comes within ``timeout``, else by ``timeout``."""

    due: list[tuple[float, str]]
    now: float = 0.0
    waits: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def take(self, timeout: float) -> str | None:
        self.waits.append(timeout)
        if self.due and self.due[0][0] <= self.now + timeout:
            at, item = self.due.pop(0)
            self.now = max(self.now, at)
            return item
        self.now += timeout
        return None


def test_what_is_ready_is_taken_up_to_the_batch_size_without_waiting() -> None:
    source = Arrivals([(0.0, f"m{i}") for i in range(1, 10)])
    batch = collect("m0", source.take, size=5, window=0.005, clock=source.clock)
    assert batch == ["m0", "m1", "m2", "m3", "m4"]
    assert source.waits == [0.0] * 4 and source.now == 0.0
    assert source.due[0] == (0.0, "m5")  # the rest waits for the next batch


def test_a_batch_waits_no_longer_than_the_window_after_its_first_message() -> None:
    source = Arrivals([(0.002, "m1"), (0.004, "m2"), (0.030, "late")])
    batch = collect("m0", source.take, size=50, window=0.005, clock=source.clock)
    assert batch == ["m0", "m1", "m2"]
    assert source.now == 0.005  # the window's end, not the late message's arrival
    assert all(w <= 0.005 for w in source.waits)
    assert source.due == [(0.030, "late")]


def test_a_lone_message_goes_after_the_window() -> None:
    source = Arrivals([])
    assert collect("only", source.take, size=50, window=0.003, clock=source.clock) == ["only"]
    assert source.now == 0.003


def test_no_window_takes_only_what_is_ready() -> None:
    source = Arrivals([(0.0, "m1"), (0.001, "m2")])
    assert collect("m0", source.take, size=50, window=0.0, clock=source.clock) == ["m0", "m1"]
    assert source.now == 0.0


def test_batch_size_one_never_asks_for_more() -> None:
    source = Arrivals([(0.0, "m1")])
    assert collect("m0", source.take, size=1, window=0.01, clock=source.clock) == ["m0"]
    assert source.waits == []
