"""How fast is `add_business_time` on the packaged default calendar?

Workload: seeded random minute-aligned starts over two years (2026-2027, holidays and both DST
changes included), half with the first-reply budget (1 business hour) and half with the
resolution budget (31.5 business hours). Every SLA start, resume and calendar recompute calls it,
and a calendar change recomputes every open ticket, so it must do many thousands of calls/s.

Baseline, measured in the same run on a smaller sample of the same workload: the minute-stepping
oracle from tests/unit/test_calendar_oracle.py, i.e. the obvious "advance one minute, ask whether
the desk is open" implementation. Its answers are also checked against the fast ones here.
Target: 1000x the baseline. Minute stepping pays per minute of calendar time crossed (thousands
of steps for a 1h budget started on a Friday evening); the fast path pays per window crossed, from
a per-date cache of UTC intervals. On the reference 2-core machine the fast path does ~360k
calls/s against ~190/s (ratio ~1900); the same code without its day cache falls to ~280x, so the
target catches a lost cache or a return to per-minute work. Absolute figures print above the last
line.

Run: uv run python -m bench.calendar_add [--calls N] [--baseline-calls N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.unit.test_calendar_oracle import MinuteSteppingCalendar
from workflow.adapters.calendar_sources import load_calendar
from workflow.domain.calendar import BusinessCalendar
from workflow.domain.sla import FIRST_REPLY, RESOLUTION

TARGET_RATIO = 1000.0
FIRST, LAST = datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)


def workload(count: int, seed: int) -> list[tuple[datetime, timedelta]]:
    rng = random.Random(seed)
    minutes = int((LAST - FIRST).total_seconds() // 60)
    budgets = (FIRST_REPLY.budget, RESOLUTION.budget)
    return [(FIRST + timedelta(minutes=rng.randrange(minutes)), budgets[i % 2]) for i in range(count)]


def rate(
    fn: Callable[[datetime, timedelta], datetime], calls: list[tuple[datetime, timedelta]]
) -> tuple[float, list[datetime]]:
    began = time.perf_counter()
    results = [fn(t, d) for t, d in calls]
    return len(calls) / (time.perf_counter() - began), results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--baseline-calls", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261126)
    args = parser.parse_args()

    cal: BusinessCalendar = load_calendar()
    calls = workload(args.calls, args.seed)
    fast, _ = rate(cal.add_business_time, calls)
    for budget in (FIRST_REPLY, RESOLUTION):
        subset = [c for c in calls if c[1] == budget.budget]
        print(f"  {budget.name} ({budget.budget}): {rate(cal.add_business_time, subset)[0]:,.0f}/s")

    sample = workload(args.baseline_calls, args.seed + 1)
    oracle = MinuteSteppingCalendar(cal)
    baseline, expected = rate(oracle.add, sample)
    got = [cal.add_business_time(t, d).astimezone(UTC) for t, d in sample]
    mismatches = sum(a != b for a, b in zip(got, expected, strict=True))
    print(f"  {len(calls):,} fast calls, {len(sample)} baseline calls, {mismatches} mismatches")
    if mismatches:
        raise SystemExit("fast and minute-stepping answers differ")

    ratio = fast / baseline
    print(
        f"calendar_add: {fast:.0f} calls/s vs baseline {baseline:.0f} calls/s"
        f" = ratio {ratio:.1f} (target {TARGET_RATIO:.0f})"
    )


if __name__ == "__main__":
    main()
