"""deploy/: the alert rules pass ``promtool check rules`` and their series fixtures
(``promtool test rules``), and the Grafana dashboard and the rules ask only for metrics the
processes define (the registry every process exports, plus the scrape-time figures)."""

from __future__ import annotations

import re
import shutil
import subprocess

from prometheus_client import REGISTRY

import consumers.amqp.dlq  # noqa: F401  (imported for the metrics they register)
import schedulers.runner  # noqa: F401
from telemetry import metrics  # noqa: F401
from telemetry.collectors import FAMILIES
from tests import services
from tests.deploy_monitoring import (
    RULE_TESTS,
    RULES,
    SCRAPE_CONFIG,
    dashboard_queries,
    names_in,
    rule_queries,
    series_names,
)


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        services.unavailable("promtool", "Debian's `prometheus` package is not installed")
    assert found is not None
    return found


def _exported() -> set[str]:
    defined = [(f.name, f.type) for f in REGISTRY.collect()]
    stored = [(name, "gauge") for name in FAMILIES] + [("resetdesk_figures_up", "gauge")]
    return series_names(defined + stored)


def test_promtool_accepts_the_alert_rules() -> None:
    done = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout


def test_promtool_accepts_the_scrape_configuration() -> None:
    done = subprocess.run([_promtool(), "check", "config", str(SCRAPE_CONFIG)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_alert_fires_on_its_fixture_and_stays_quiet_on_healthy_series() -> None:
    done = subprocess.run([_promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert tested == {"ResetDeskSlaBreachRate", "ResetDeskDeadLettersGrowing",
                      "ResetDeskOutboxStale", "ResetDeskQueueWithoutConsumers",
                      "ResetDeskSchedulerLag", "ResetDeskNoSchedulerLeader"}


def test_every_dashboard_query_asks_for_exported_metrics_only() -> None:
    queries = dashboard_queries()
    assert queries and all(names_in([q]) for q in queries), "a query without a ResetDesk metric"
    unknown = names_in(queries) - _exported()
    assert not unknown, f"the dashboard queries metrics nobody exports: {sorted(unknown)}"


def test_every_alert_rule_asks_for_exported_metrics_only() -> None:
    unknown = names_in(rule_queries()) - _exported()
    assert not unknown, f"the alert rules query metrics nobody exports: {sorted(unknown)}"
