"""The ops listener over real HTTP on a free port: liveness, readiness from its checks, the
Prometheus text of its own registry, and scrape-time figures that survive a failing source."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from telemetry import metrics
from telemetry.collectors import Figures, Reading
from telemetry.server import OpsServer


def _down() -> None:
    raise ConnectionRefusedError("connection refused")


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def listener(registry: CollectorRegistry) -> Iterator[tuple[OpsServer, dict[str, bool]]]:
    healthy = {"database": True}

    def database() -> None:
        if not healthy["database"]:
            _down()

    server = OpsServer("127.0.0.1", 0, process="test", checks={"database": database},
                       registry=registry).start()
    yield server, healthy
    server.stop()


def _get(server: OpsServer, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{server.port}{path}", timeout=5)


def test_alive_and_ready_answer_200_while_the_checks_pass(listener: tuple[OpsServer, dict[str, bool]]
                                                         ) -> None:
    server, _ = listener
    assert _get(server, "/healthz").json() == {"ok": True, "process": "test"}
    ready = _get(server, "/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}


def test_readiness_is_503_naming_the_failed_check_while_liveness_stays_200(
        listener: tuple[OpsServer, dict[str, bool]]) -> None:
    server, healthy = listener
    healthy["database"] = False
    ready = _get(server, "/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("ConnectionRefusedError")
    assert _get(server, "/healthz").status_code == 200
    assert _get(server, "/nothing").status_code == 404


def test_metrics_are_the_registry_in_prometheus_text(listener: tuple[OpsServer, dict[str, bool]],
                                                     registry: CollectorRegistry) -> None:
    server, _ = listener
    Counter("resetdesk_test_things_total", "things", ["kind"], registry=registry).labels("a").inc(3)
    response = _get(server, "/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    [family] = [f for f in text_string_to_metric_families(response.text)
                if f.name == "resetdesk_test_things"]
    assert [(s.labels, s.value) for s in family.samples] == [({"kind": "a"}, 3.0)]


def test_a_failing_source_is_reported_down_and_the_others_still_arrive(
        registry: CollectorRegistry) -> None:
    def outbox() -> Reading:
        return {"resetdesk_outbox_unsent_messages": [((), 7.0)]}

    def broker() -> Reading:
        raise OSError("broker unreachable")

    registry.register(Figures({"database": outbox, "broker": broker}))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(generate_latest(registry).decode())
               for s in f.samples}
    assert samples[("resetdesk_figures_up", (("source", "database"),))] == 1
    assert samples[("resetdesk_figures_up", (("source", "broker"),))] == 0
    assert samples[("resetdesk_outbox_unsent_messages", ())] == 7


def test_a_committed_transaction_counts_its_moves_verdicts_and_alarms() -> None:
    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = (value("resetdesk_ticket_transitions_total", from_state="new", to_state="submitted"),
              value("resetdesk_verifications_total", outcome="rejected-region"),
              value("resetdesk_sla_alarms_total", clock="first_reply", level="breached"))
    metrics.committed([("", "submitted", "submit", None),
                       ("submitted", "closed", "reject", "rejected-region")],
                      [("first_reply", "breached")])
    after = (value("resetdesk_ticket_transitions_total", from_state="new", to_state="submitted"),
             value("resetdesk_verifications_total", outcome="rejected-region"),
             value("resetdesk_sla_alarms_total", clock="first_reply", level="breached"))
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]


@pytest.mark.parametrize(("reason", "label"), [
    ("retries_exhausted", "retries_exhausted"), ("wrong-source", "wrong_source"),
    ("gave up after 5 attempts; last error: x", "other"), ("", "other")])
def test_reasons_become_short_labels(reason: str, label: str) -> None:
    assert metrics.reason_code(reason) == label


def test_event_kinds_are_the_contract_names_without_prefix_and_version() -> None:
    assert metrics.event_kind("com.resetdesk.ticket.queued.v1") == "ticket.queued"
    assert metrics.event_kind("com.resetdesk.sla.at_risk.v1") == "sla.at_risk"
    assert metrics.event_kind("org.example.other") == "other"


def test_readiness_checks_the_database_is_at_the_codes_migration(tmp_path: Path) -> None:
    from resetdesk.bootstrap import bootstrap
    from resetdesk.ops import checks
    from resetdesk.settings import Settings
    from telemetry.server import readiness
    from workflow.adapters import migrate

    url = f"sqlite:///{tmp_path / 'resetdesk.db'}"
    migrate.upgrade(url, migrate.heads()[0] + "-1")  # one revision behind the code
    app = bootstrap(Settings(database_url=url))
    try:
        ok, results = readiness(checks(app))
        assert not ok and results["database"] == "ok"
        assert "db upgrade" in results["migrations"] and set(results) == {"database", "migrations"}
        migrate.upgrade(url)
        assert readiness(checks(app)) == (True, {"database": "ok", "migrations": "ok"})
    finally:
        app.close()
