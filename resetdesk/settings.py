"""All settings in one place, read from ``RESETDESK_*`` environment variables (or a ``.env``).

Grouped by concern (:mod:`resetdesk.settings_groups`): ``RESETDESK_<GROUP>__<FIELD>``, e.g.
``RESETDESK_CALLBACKS__CAPACITY=4``; the few global ones stay flat (``RESETDESK_DATA_DIR``,
``RESETDESK_DATABASE_URL``, ``RESETDESK_BROKER_URL``, ``RESETDESK_SECRET_KEY``). Only the
composition root reads them (:func:`load_settings`), and a bad value, or a variable under its
pre-grouping name, stops the process with one line naming the variable.
docs/configuration.md lists them all (``resetdesk docs config`` writes it).

No broker URL selects the embedded default: SQLite is both the store and the durable queue.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from resetdesk.settings_groups import (
    AmqpSettings,
    CallbackSettings,
    KeySettings,
    LoggingSettings,
    OpsSettings,
    QueueSettings,
    RetentionSettings,
    SchedulerSettings,
    ServerSettings,
    SessionSettings,
    SlaSettings,
    SmtpSettings,
    ThrottleSettings,
    VerificationSettings,
)

PREFIX = "RESETDESK_"
DELIMITER = "__"
ENV_FILE = ".env"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, env_nested_delimiter=DELIMITER,
                                      env_file=ENV_FILE, extra="ignore", env_ignore_empty=True)

    data_dir: Path = Field(Path("."), description="where the SQLite database, `producer.token`, "
                           "`secret.key`, `resetdesk.json` and `mail/` live (`--data-dir` wins)")
    database_url: str | None = Field(None, description="SQLAlchemy URL "
                                     "(`postgresql+psycopg://…`); unset: SQLite in the data dir")
    broker_url: str | None = Field(None, description="RabbitMQ "
                                   "(`amqp://user:password@host:port/vhost`); unset: embedded "
                                   "mode")
    secret_key: str | None = Field(None, min_length=16, description="signs customer links and "
                                   "seals reset keys; `up` keeps one in `<data dir>/secret.key` "
                                   "when unset; production must set it (32+ random characters)")

    server: ServerSettings = ServerSettings()
    queue: QueueSettings = QueueSettings()
    verification: VerificationSettings = VerificationSettings()
    smtp: SmtpSettings = SmtpSettings()
    sla: SlaSettings = SlaSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    amqp: AmqpSettings = AmqpSettings()
    ops: OpsSettings = OpsSettings()
    callbacks: CallbackSettings = CallbackSettings()
    keys: KeySettings = KeySettings()
    sessions: SessionSettings = SessionSettings()
    throttle: ThrottleSettings = ThrottleSettings()
    logging: LoggingSettings = LoggingSettings()
    retention: RetentionSettings = RetentionSettings()

    @field_validator("broker_url")
    @classmethod
    def _amqp(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("amqp://", "amqps://")):
            raise ValueError("must be an amqp:// or amqps:// URL")
        return url

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'resetdesk.db').resolve()}"

    @property
    def embedded(self) -> bool:
        return not self.broker_url

    def with_server(self, **changes: Any) -> Settings:
        """A copy with ``server`` fields replaced (``--host``/``--port``, the public URL found)."""
        return self.model_copy(update={"server": self.server.model_copy(update=changes)})


class SettingsError(ValueError):
    """A setting that cannot be used; the message is one line naming the variable."""


def env_name(*path: str) -> str:
    """``env_name("callbacks", "capacity")`` -> ``RESETDESK_CALLBACKS__CAPACITY``."""
    return PREFIX + DELIMITER.join(path).upper()


def load_settings(**overrides: Any) -> Settings:
    """The settings of this process: the environment and ``.env``, then ``overrides`` (nested
    as dicts: ``server={"port": 8001}``). Raises :class:`SettingsError` for a bad value or a
    variable still under its old flat name."""
    renamed = old_names_in_use()
    if renamed:
        raise SettingsError("renamed settings (see docs/configuration.md): " + "; ".join(
            f"{old} is now {new}" if new else f"{old} is no longer used"
            for old, new in renamed))
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise SettingsError("bad setting: " + "; ".join(
            _problem(e["loc"], e["msg"], e.get("input")) for e in err.errors())) from None
    except SourceError as err:  # a JSON value (a list) that does not parse
        raise SettingsError("bad setting: " + ("; ".join(
            f"{name}: not valid JSON (got {value!r})" for name, value in _bad_json())
            or str(err))) from None


def _problem(loc: tuple[int | str, ...], message: str, given: Any) -> str:
    path = [str(part) for part in loc if isinstance(part, str)]
    name = env_name(*path) if path else "settings"
    message = message.removeprefix("Value error, ")
    if message.startswith(PREFIX):  # a check across fields names them itself
        return message
    secret = any(word in name for word in ("SECRET", "URL"))  # may carry credentials
    shown = "" if secret or given is None or isinstance(given, dict) else f" (got {given!r})"
    return f"{name}: {message}{shown}"


def _bad_json() -> list[tuple[str, str]]:
    """The variables of list settings whose value is not JSON."""
    def lists(model: type[BaseModel], path: tuple[str, ...]) -> list[str]:
        found = []
        for name, info in model.model_fields.items():
            if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
                found += lists(info.annotation, (*path, name))
            elif str(info.annotation).startswith("list"):
                found.append(env_name(*path, name))
        return found

    env = {k.upper(): v for k, v in os.environ.items()}
    bad = []
    for name in lists(Settings, ()):
        try:
            json.loads(env.get(name, "null"))
        except ValueError:
            bad.append((name, env[name]))
    return bad


#: the flat names used before the settings were grouped -> their name now (None: removed)
RENAMED: dict[str, str | None] = {
    **{f"{PREFIX}{old.upper()}": env_name(*new.split(".")) for old, new in {
        "host": "server.host", "port": "server.port", "public_url": "server.public_url",
        "workers": "queue.workers", "lease_seconds": "queue.lease_seconds",
        "max_attempts": "queue.retry.max_attempts",
        "retry_delays_seconds": "queue.retry.delays_seconds",
        "model_rules_path": "verification.model_rules_path",
        "regional_offices_path": "verification.regional_offices_path",
        "human_check": "verification.human_check",
        "siteverify_url": "verification.siteverify_url",
        "siteverify_secret": "verification.siteverify_secret",
        "siteverify_timeout_seconds": "verification.siteverify_timeout_seconds",
        "smtp_host": "smtp.host", "smtp_port": "smtp.port", "smtp_from": "smtp.sender",
        "smtp_timeout_seconds": "smtp.timeout_seconds",
        "calendar_path": "sla.calendar_path", "first_reply_hours": "sla.first_reply_hours",
        "resolution_hours": "sla.resolution_hours", "at_risk_ratio": "sla.at_risk_ratio",
        "scheduler_interval_seconds": "scheduler.interval_seconds",
        "amqp_prefetch": "amqp.prefetch", "amqp_heartbeat": "amqp.heartbeat",
        "amqp_workers": "amqp.workers", "amqp_system_user": "amqp.system_user",
        **{f"callback_{f}": f"callbacks.{f}" for f in (
            "slot_minutes", "capacity", "max_failed_attempts", "exhausted_policy", "escalation",
            "notice_minutes", "horizon_days", "link_hours")},
        **{f"key_{f}": f"keys.{f}" for f in (
            "hours_security_codes", "hours_key", "hours_encrypted_file", "link_days",
            "max_file_bytes", "remind_after_business_days", "close_after_business_days")},
        **{f"session_{f}": f"sessions.{f}" for f in (
            "code_minutes", "consent_minutes", "token_minutes", "idle_minutes", "max_failures",
            "failure_window_minutes", "lockout_minutes")},
        "throttle_enabled": "throttle.enabled",
        **{f: f"throttle.{f}" for f in (
            "signin_failures_per_login", "signin_failures_per_address", "signin_window_minutes",
            "customer_link_rate_per_minute", "intake_rate_per_minute",
            "intake_status_rate_per_minute")},
        "log_format": "logging.format", "log_level": "logging.level",
        "log_access": "logging.access",
        "retention_days": "retention.days",
        "attachment_retention_days": "retention.attachment_days",
    }.items()},
    f"{PREFIX}MAX_EXPORT_BYTES": None,
}


def old_names_in_use() -> list[tuple[str, str | None]]:
    """Old names set in the environment or ``.env``: ignored silently they would hide a
    deployment's configuration, so loading refuses them."""
    names = {k.upper() for k in os.environ}
    if Path(ENV_FILE).is_file():
        from dotenv import dotenv_values

        names |= {k.upper() for k in dotenv_values(ENV_FILE)}
    return [(old, new) for old, new in RENAMED.items() if old in names]
