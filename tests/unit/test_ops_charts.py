"""The ops pages' SVG geometry and figures: what the templates draw, without a browser."""

from __future__ import annotations

from console.pages.ops_charts import grouped_bars, sparkline
from console.pages.ops_view import age, count, rate, share


def test_a_sparkline_needs_two_samples_and_scales_to_its_peak() -> None:
    assert sparkline([]) is None and sparkline([3.0]) is None
    line = sparkline([0.0, 5.0, 10.0], width=100, height=24)
    assert line is not None and (line.last, line.peak) == (10.0, 10.0)
    xs_ys = [tuple(map(float, p.split(","))) for p in line.points.split()]
    assert [x for x, _ in xs_ys] == [0.0, 50.0, 100.0]
    assert xs_ys[0][1] == 22.0 and xs_ys[2][1] == 2.0  # zero at the bottom, the peak on top


def test_grouped_bars_put_one_bar_per_series_in_each_group_with_its_value_as_title() -> None:
    chart = grouped_bars(["a", "b"], {"in": [4, 0], "out": [2, 1]}, label="x", width=200,
                         height=116, every=2)
    assert [b.kind for b in chart.bars] == ["in", "out", "in", "out"]
    assert [b.title for b in chart.bars] == ["a: in 4", "a: out 2", "b: in 0", "b: out 1"]
    tallest = max(chart.bars, key=lambda b: b.h)
    assert tallest.title == "a: in 4" and tallest.h == 94.0  # base 100 minus top 6
    assert all(b.y + b.h == 100.0 for b in chart.bars)
    assert [t.text for t in chart.ticks] == ["a"]  # every second label


def test_a_figure_nobody_knows_reads_n_a() -> None:
    assert [age(None), count(None), rate(None), share(None)] == ["n/a"] * 4
    assert [age(59), age(600), age(7300), age(200_000)] == ["59 s", "10 min", "2 h 1 min",
                                                            "2 d 7 h"]
    assert (count(12345), rate(0.5), share(0.874)) == ("12,345", "0.50/s", "87 %")
