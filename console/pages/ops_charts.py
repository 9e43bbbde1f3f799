"""Server-rendered SVG for the ops pages: sparklines and bar charts as coordinates the templates
draw (no script and no chart library; the page's CSP allows no inline style, so colours come
from classes in console.css)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Spark:
    points: str
    last: float
    peak: float
    width: int
    height: int


def sparkline(values: Sequence[float], width: int = 120, height: int = 24) -> Spark | None:
    """A polyline over ``values`` (oldest first), scaled to its peak; None with fewer than two
    samples (no history yet)."""
    if len(values) < 2:
        return None
    peak = max(max(values), 1.0)
    step = width / (len(values) - 1)
    pad = 2
    points = " ".join(f"{i * step:.1f},{pad + (height - 2 * pad) * (1 - v / peak):.1f}"
                      for i, v in enumerate(values))
    return Spark(points, values[-1], max(values), width, height)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    kind: str
    title: str


@dataclass(frozen=True)
class Tick:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick]
    peak: float
    kinds: tuple[str, ...]
    label: str


def grouped_bars(labels: Sequence[str], series: dict[str, Sequence[float]], *, label: str,
                 unit: str = "", width: int = 560, height: int = 140,
                 every: int = 1) -> Chart:
    """One group of bars per label, one bar per series in it; every ``every``-th label is
    written under its group. Each bar's title says its value (a tooltip, and text for
    assistive technology)."""
    kinds = tuple(series)
    peak = max([1.0, *(v for vals in series.values() for v in vals)])
    base, top = height - 16, 6
    group = width / max(1, len(labels))
    bar_w = max(1.0, (group - 2) / max(1, len(kinds)))
    bars, ticks = [], []
    for i, name in enumerate(labels):
        for k, kind in enumerate(kinds):
            value = float(series[kind][i])
            h = (base - top) * value / peak
            bars.append(Bar(round(i * group + 1 + k * bar_w, 1), round(base - h, 1),
                            round(bar_w, 1), round(h, 1), kind,
                            f"{name}: {kind} {value:g}{unit}"))
        if i % every == 0:
            ticks.append(Tick(round(i * group + group / 2, 1), name))
    return Chart(width, height, bars, ticks, peak, kinds, label)
