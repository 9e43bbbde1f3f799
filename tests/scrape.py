"""Reading a process's ``/metrics`` as Prometheus would: samples, and the series names it
declares (a labelled counter nothing has incremented yet is declared with no sample)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy_monitoring import series_names


@dataclass(frozen=True)
class Scrape:
    samples: list[tuple[str, dict[str, str], float]]
    #: every series name the families declared stand for (``_total``, ``_bucket`` …)
    declared: set[str]

    def value(self, name: str, **labels: str) -> float:
        """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
        return sum(v for n, lab, v in self.samples
                   if n == name and all(lab.get(k) == want for k, want in labels.items()))


def scrape(base: str) -> Scrape:
    response = httpx.get(f"{base}/metrics", timeout=10)
    response.raise_for_status()
    families = list(text_string_to_metric_families(response.text))
    return Scrape([(s.name, dict(s.labels), s.value) for f in families for s in f.samples],
                  series_names((f.name, f.type) for f in families))
