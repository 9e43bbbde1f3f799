"""What deploy/ asks of the processes: the metric names its dashboard and alert rules query."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "resetdesk-dashboard.json"
RULES = ROOT / "deploy" / "prometheus" / "resetdesk-alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "resetdesk-alerts.test.yml"
SCRAPE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
_NAME = re.compile(r"\bresetdesk_[a-z0-9_]+\b")
#: the series Prometheus derives from one family of each type
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
            "summary": ("", "_count", "_sum"), "gauge": ("",), "untyped": ("",)}


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [t["expr"] for p in panels for t in p["targets"]]


def rule_queries() -> list[str]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [r["expr"] for g in groups for r in g["rules"]]


def names_in(queries: Iterable[str]) -> set[str]:
    return {name for q in queries for name in _NAME.findall(q)}


def series_names(families: Iterable[tuple[str, str]]) -> set[str]:
    """(family name, type) -> every series name Prometheus stores for it."""
    return {name + suffix for name, kind in families for suffix in SUFFIXES[kind]}
