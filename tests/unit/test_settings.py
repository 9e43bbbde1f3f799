"""The settings: grouped environment variables reach the typed policies the composition root
builds, a bad or renamed variable stops a command with one line naming it, the reference doc
lists every setting, and nothing but ``resetdesk.settings`` reads the environment."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resetdesk import policies, settings_doc
from resetdesk.bootstrap import bootstrap
from resetdesk.cli import app as cli
from resetdesk.settings import RENAMED, Settings, SettingsError, env_name, load_settings
from resetdesk.settings_doc import _fields
from tests.processes import process_env
from workflow.domain.policies import Policies
from workflow.domain.retry import RetryPolicy
from workflow.domain.throttle import INTAKE, SIGNIN_LOGIN, RateLimit

ROOT = Path(__file__).resolve().parents[2]
#: every RESETDESK_* variable the settings read, e.g. RESETDESK_CALLBACKS__CAPACITY
ENV_NAMES = [env_name(*path) for path, _ in _fields(Settings, ())]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No setting from the caller's environment or a ``.env``, whatever the test machine has."""
    import os

    for name in [k for k in os.environ if k.startswith("RESETDESK_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


def test_grouped_variables_reach_the_policies_the_bus_and_consumers_get(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"CALLBACKS__CAPACITY": "4", "CALLBACKS__EXHAUSTED_POLICY": "close",
                        "KEYS__HOURS_KEY": "12", "KEYS__LINK_DAYS": "20",
                        "SESSIONS__CODE_MINUTES": "5", "SESSIONS__MAX_FAILURES": "3",
                        "THROTTLE__ENABLED": "false", "THROTTLE__INTAKE_RATE_PER_MINUTE": "7",
                        "QUEUE__RETRY__MAX_ATTEMPTS": "3",
                        "QUEUE__RETRY__DELAYS_SECONDS": "[0.4, 2.6]",
                        "AMQP__PREFETCH": "4", "SCHEDULER__LOCK_NAME": "eu",
                        "SERVER__PUBLIC_URL": "https://desk.example",
                        "SECRET_KEY": "k" * 32}.items():
        monkeypatch.setenv(f"RESETDESK_{name}", value)
    app = bootstrap(load_settings())
    p = app.policies
    assert (p.callbacks.capacity, p.callbacks.exhausted, p.callbacks.slot_minutes) == (4, "close", 30)
    assert p.keys.validity["key"] == timedelta(hours=12)
    assert p.keys.validity["security_codes"] == timedelta(hours=24)
    assert p.keys.link_lifetime == timedelta(days=20)
    assert p.sessions.code_ttl == timedelta(minutes=5) and p.sessions.throttle.max_failures == 3
    assert not p.throttle.enabled and p.throttle.rule(INTAKE) == RateLimit(7, timedelta(minutes=1))
    assert p.throttle.rule(SIGNIN_LOGIN) == RateLimit(10, timedelta(minutes=15))
    consumer = app.consumer_config()
    assert app.retry == consumer.retry == RetryPolicy(3, (0.4, 2.6))
    assert consumer.retry.queue_delays() == (1, 3) and consumer.prefetch == 4
    assert app.request_handler.retry is app.retry
    assert app.scheduler_config().name == "eu"
    assert app.settings.server.public_url == "https://desk.example"


def test_a_whole_group_may_come_as_one_json_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESETDESK_CALLBACKS", '{"capacity": 5, "slot_minutes": 15}')
    monkeypatch.setenv("RESETDESK_CALLBACKS__CAPACITY", "6")  # the field's own variable wins
    assert policies.callback_policy(load_settings().callbacks).capacity == 6
    assert load_settings().callbacks.slot_minutes == 15


def test_the_default_settings_are_the_domain_defaults() -> None:
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert policies.policies(s) == Policies()
    assert policies.retry_policy(s.queue.retry) == RetryPolicy()


@pytest.mark.parametrize(("name", "value", "said"), [
    ("RESETDESK_CALLBACKS__CAPACITY", "0", "greater than or equal to 1 (got '0')"),
    ("RESETDESK_CALLBACKS__CAPACITY", "two", "valid integer"),
    ("RESETDESK_CALLBACKS__EXHAUSTED_POLICY", "forget", "'requeue' or 'close'"),
    ("RESETDESK_CALLBACKS__SLOT_MINUTES", "241", "less than or equal to 240"),
    ("RESETDESK_CALLBACKS__CAPACTY", "2", "Extra inputs are not permitted"),
    ("RESETDESK_LOGGING__FORMAT", "xml", "'human' or 'json' (got 'xml')"),
    ("RESETDESK_LOGGING__LEVEL", "loud", "'DEBUG'"),
    ("RESETDESK_QUEUE__RETRY__DELAYS_SECONDS", "1, 5", "not valid JSON"),
    ("RESETDESK_QUEUE__RETRY__DELAYS_SECONDS", "[]", "at least 1 item"),
    ("RESETDESK_SLA__AT_RISK_RATIO", "1.5", "less than or equal to 1"),
    ("RESETDESK_SERVER__PUBLIC_URL", "desk.example", "http:// or https://"),
    ("RESETDESK_BROKER_URL", "http://rabbit", "amqp:// or amqps://"),
    ("RESETDESK_SECRET_KEY", "short-secret", "at least 16 characters"),
    ("RESETDESK_KEYS__REMIND_AFTER_BUSINESS_DAYS", "5", "must be below "
                                                       "RESETDESK_KEYS__CLOSE_AFTER_BUSINESS_DAYS"),
    ("RESETDESK_VERIFICATION__HUMAN_CHECK", "siteverify", "needs "
                                                          "RESETDESK_VERIFICATION__SITEVERIFY_URL"),
])
def test_a_bad_value_is_one_line_naming_its_variable(monkeypatch: pytest.MonkeyPatch, name: str,
                                                     value: str, said: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert "\n" not in message and name in message and said in message, message
    assert "short-secret" not in message  # a secret is never echoed


def test_an_old_flat_name_is_refused_with_its_new_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESETDESK_CALLBACK_CAPACITY", "4")
    monkeypatch.setenv("RESETDESK_MAX_EXPORT_BYTES", "10")
    with pytest.raises(SettingsError, match="RESETDESK_CALLBACK_CAPACITY is now "
                                            "RESETDESK_CALLBACKS__CAPACITY; "
                                            "RESETDESK_MAX_EXPORT_BYTES is no longer used"):
        load_settings()


def test_an_old_name_in_dot_env_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RESETDESK_LOG_FORMAT=json\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="RESETDESK_LOG_FORMAT is now RESETDESK_LOGGING__FORMAT"):
        load_settings()
    (tmp_path / ".env").write_text("RESETDESK_LOGGING__FORMAT=json\n", encoding="utf-8")
    assert load_settings().logging.format == "json"


def test_every_renamed_variable_points_at_a_setting_that_exists() -> None:
    assert {new for new in RENAMED.values() if new} <= set(ENV_NAMES)
    assert not set(RENAMED) & set(ENV_NAMES)


def test_a_command_with_a_bad_setting_says_one_line_and_exits_2(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESETDESK_LOGGING__FORMAT", "xml")
    for command in (["scheduler"], ["tickets", "list"], ["relay"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, (command, result.output)
        assert result.output.count("\n") == 1 and "RESETDESK_LOGGING__FORMAT" in result.output
        assert "Traceback" not in result.output


def test_a_real_process_with_a_bad_log_format_prints_one_line(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "resetdesk", "serve"], cwd=tmp_path,
                         env=process_env(RESETDESK_LOGGING__FORMAT="xml"), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "error: bad setting: RESETDESK_LOGGING__FORMAT: Input should be 'human' or 'json' "
        "(got 'xml')"]


def test_the_configuration_reference_lists_every_setting_and_is_up_to_date() -> None:
    text = (ROOT / settings_doc.DOCUMENT).read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(RESETDESK_[A-Z0-9_]+)` \|", text, re.M))
    assert set(ENV_NAMES) <= listed, set(ENV_NAMES) - listed
    assert text == settings_doc.render(), "stale: run `uv run resetdesk docs config`"


def test_only_the_settings_module_reads_the_environment() -> None:
    """The composition root reads settings through ``resetdesk.settings``; no other module (tests
    and the deploy/ scripts apart) looks at ``os.environ``/``getenv`` for configuration."""
    readers = re.compile(r"\bos\.environ\b|\bgetenv\(|\bfrom os import environ\b|\benviron\[")
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    # tests/ and deploy/ (operator tooling that hands RabbitMQ its own variables) are no process
    found = [path for path in tracked if not path.startswith(("tests/", "deploy/"))
             and path != "resetdesk/settings.py"
             and readers.search((ROOT / path).read_text(encoding="utf-8"))]
    assert found == []
    processes = ("console/", "consumers/", "schedulers/", "workflow/", "resetdesk/")
    parsers = [path for path in tracked if path.startswith(processes)
               and re.search(r"\bimport argparse\b", (ROOT / path).read_text(encoding="utf-8"))]
    assert parsers == [], "a process takes its configuration from the settings (and typer flags)"
