"""compose.yaml is valid and only runs commands the CLI really has (no Docker engine here:
`docker-compose config` validates without one, and the tests run the same processes natively)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import typer
import yaml

from resetdesk.cli import app
from tests import services

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "compose.yaml").read_text())  # type: ignore[no-any-return]


def _binary() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        services.unavailable("docker-compose", "not installed (apt-get install docker-compose)")
    assert binary is not None
    return binary


def test_docker_compose_accepts_the_file() -> None:
    binary = _binary()
    env = {**os.environ, "RESETDESK_SECRET_KEY": "x" * 40}
    out = subprocess.run([binary, "-f", str(ROOT / "compose.yaml"), "config", "-q"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_the_secret_key_is_required_not_defaulted() -> None:
    binary = _binary()
    env = {k: v for k, v in os.environ.items() if k != "RESETDESK_SECRET_KEY"}
    out = subprocess.run([binary, "-f", str(ROOT / "compose.yaml"), "config", "-q"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "RESETDESK_SECRET_KEY" in out.stderr


def test_every_service_command_is_a_real_cli_command() -> None:
    cli = typer.main.get_command(app)
    for name, service in _compose()["services"].items():
        command = service.get("command")
        if not command or service.get("image", "").split(":")[0] != "resetdesk":
            continue
        node = cli
        for word in [w for w in command if not w.startswith("-")][:2]:
            find = getattr(node, "get_command", None)  # a group (its commands load lazily)
            sub = find(typer.Context(node), word) if find else None
            if sub is None:
                break
            node = sub
        assert node is not cli, f"service {name}: `resetdesk {' '.join(command)}` is not a command"


def test_every_process_has_what_it_needs() -> None:
    compose = _compose()
    for name, service in compose["services"].items():
        if service.get("image", "").startswith("resetdesk") and name != "migrate":
            env = service["environment"]
            assert env["RESETDESK_DATABASE_URL"].startswith("postgresql+psycopg://"), name
            assert env["RESETDESK_BROKER_URL"].startswith("amqp://"), name
    assert "healthcheck" in compose["services"]["postgres"]
    assert "enable_feature_flag all" in " ".join(compose["services"]["rabbitmq"]["healthcheck"]["test"])


def test_every_process_is_healthy_only_when_ready() -> None:
    """Each worker's healthcheck asks its ops listener's /readyz; the web side its own port's."""
    for name, service in _compose()["services"].items():
        if not service.get("image", "").startswith("resetdesk") or name == "migrate":
            continue
        probe = " ".join(service["healthcheck"]["test"])
        port = "8000" if name == "web" else service["environment"]["RESETDESK_OPS__PORT"]
        assert f"127.0.0.1:{port}/readyz" in probe, name
        if name != "web":
            assert service["environment"]["RESETDESK_OPS__HOST"] == "0.0.0.0", name


def test_every_service_states_its_replicas_as_the_deployment_doc_does() -> None:
    """docs/deployment.md's "How many of each process" table and compose.yaml agree."""
    replicas = {name: service.get("deploy", {}).get("replicas")
                for name, service in _compose()["services"].items()}
    assert all(isinstance(n, int) and n >= 1 for n in replicas.values()), replicas
    doc = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `([\w-]+)` \| (\d+) \|", doc, flags=re.M))
    assert {name: int(n) for name, n in table.items()} == replicas
    assert replicas["scheduler"] >= 2 and replicas["verification"] >= 2
