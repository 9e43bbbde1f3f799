"""The groups of settings, one model per concern; :mod:`resetdesk.settings` nests them.

Each field is read from ``RESETDESK_<GROUP>__<FIELD>`` (``RESETDESK_CALLBACKS__CAPACITY``), and
its bounds are checked when the settings load, so a bad value stops the process at start-up
with the variable's name. The composition root maps the groups onto the domain's policies
(:mod:`resetdesk.policies`); the descriptions are docs/configuration.md's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Seconds = float
Minutes = float
Hours = float


def http_url(url: str | None) -> str | None:
    if url is not None and not url.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return url


class Group(BaseModel):
    #: a misspelt field inside a group (``RESETDESK_CALLBACKS__CAPACTY``) is refused, not ignored
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(Group):
    """The HTTP side (`up`, `serve`) and the address customer links point to."""

    host: str = Field("127.0.0.1", description="address `up` and `serve` listen on (their "
                      "`--host` wins); also where the CLI looks for `up` when nothing is recorded")
    port: int = Field(8000, ge=1, le=65535, description="port `up` and `serve` listen on "
                      "(their `--port` wins)")
    public_url: str | None = Field(None, description="base URL of "
                                   "the links in customer emails; unset: the one `up` recorded in "
                                   "the data directory, else (embedded) `http://host:port`")

    @field_validator("public_url")
    @classmethod
    def _public_http(cls, url: str | None) -> str | None:
        return http_url(url)


class RetrySettings(Group):
    """One retry policy for the embedded workers and the AMQP consumers."""

    max_attempts: int = Field(5, ge=1, description="attempts of a message (a request, an email) "
                              "before it is parked as dead; embedded workers and AMQP consumers "
                              "alike")
    delays_seconds: list[float] = Field([1.0, 5.0, 30.0, 120.0], min_length=1, description=(
        "waits before the 1st, 2nd … retry, JSON list, the last repeated; AMQP retry queues "
        "round them to whole seconds, at least 1"))

    @field_validator("delays_seconds")
    @classmethod
    def _not_negative(cls, delays: list[float]) -> list[float]:
        if min(delays) < 0:
            raise ValueError("delays must not be negative")
        return delays


class QueueSettings(Group):
    """Embedded mode's durable queue (SQLite) and the retry policy every mode uses."""

    workers: int = Field(2, ge=1, description="embedded mode: inbox worker threads")
    lease_seconds: Seconds = Field(60.0, gt=0, description="embedded mode: how long a worker "
                                   "holds a row before another may take it over")
    retry: RetrySettings = RetrySettings()


class VerificationSettings(Group):
    """Request verification (docs/rules.md) and the human check."""

    model_rules_path: Path | None = Field(None, description="model/method rules TOML "
                                          "(docs/rules.md); unset: the packaged file")
    regional_offices_path: Path | None = Field(None, description="regional offices TOML "
                                               "(docs/rules.md); unset: the packaged file")
    human_check: Literal["local", "siteverify"] = Field("local", description="`local` "
                                                        "(offline check) or `siteverify` (the "
                                                        "provider's verify endpoint)")
    siteverify_url: str | None = Field(None, description="the provider's verify endpoint")
    siteverify_secret: str | None = Field(None, description="the provider's secret")
    siteverify_timeout_seconds: Seconds = Field(5.0, gt=0, description="verify call timeout")

    @field_validator("siteverify_url")
    @classmethod
    def _verify_http(cls, url: str | None) -> str | None:
        return http_url(url)

    @model_validator(mode="after")
    def _siteverify_complete(self) -> VerificationSettings:
        if self.human_check == "siteverify" and not (self.siteverify_url
                                                     and self.siteverify_secret):
            raise ValueError("RESETDESK_VERIFICATION__HUMAN_CHECK=siteverify needs "
                             "RESETDESK_VERIFICATION__SITEVERIFY_URL"
                             " and RESETDESK_VERIFICATION__SITEVERIFY_SECRET")
        return self


class SmtpSettings(Group):
    """Customer emails (docs/notifications.md)."""

    host: str | None = Field(None, description="SMTP relay; unset: emails are written as .eml "
                             "files to `<data dir>/mail`")
    port: int = Field(25, ge=1, le=65535, description="SMTP port")
    sender: str = Field("ResetDesk <support@resetdesk.invalid>", min_length=3,
                        description="the From of customer emails")
    timeout_seconds: Seconds = Field(10.0, gt=0, description="SMTP connection timeout")


class SlaSettings(Group):
    """The business calendar and the SLA budgets (docs/calendar.md)."""

    calendar_path: Path | None = Field(None, description="business calendar TOML "
                                       "(docs/calendar.md); unset: the packaged one")
    first_reply_hours: Hours = Field(1.0, gt=0, description="first-reply budget, business hours")
    resolution_hours: Hours = Field(31.5, gt=0, description="resolution budget, business hours")
    at_risk_ratio: float = Field(0.8, gt=0, le=1, description="share of a budget consumed that "
                                 "makes a clock at risk")


class SchedulerSettings(Group):
    """The scheduler process: SLA scans, daily purge, leader lock (docs/scheduler.md)."""

    interval_seconds: Seconds = Field(5.0, gt=0, description="seconds between SLA scans")
    purge_hour: int = Field(3, ge=0, le=23, description="hour of the daily retention purge, in "
                            "the calendar's time zone")
    lock_name: str = Field("resetdesk-scheduler", min_length=1, description="leader lock: "
                           "schedulers sharing a name elect one leader")
    ops_sample_seconds: Seconds = Field(60.0, gt=0, description="seconds between the samples "
                                        "of queues and desk the ops pages' history keeps")


class AmqpSettings(Group):
    """Production mode's RabbitMQ consumers and relay (docs/operations-amqp.md)."""

    prefetch: int = Field(10, ge=1, description="unacknowledged messages per consumer")
    heartbeat: int = Field(60, ge=1, description="AMQP heartbeat, seconds; a dead peer is "
                           "noticed within about twice that")
    workers: int = Field(2, ge=1, description="handler threads per consumer process (a message "
                         "mostly waits on the database; order across tickets is not promised)")
    batch_size: int = Field(1, ge=1, le=500, description="verification consumer: messages "
                            "written in one transaction (group commit, acked after the commit); "
                            "1: one transaction per message")
    batch_window_ms: float = Field(5.0, ge=0, le=10, description="verification consumer: how "
                                   "long a batch waits for more messages after its first")
    system_user: str | None = Field(None, description="the broker user the relay publishes as "
                                    "(default: the user in the broker URL); the verification "
                                    "consumer trusts requests carrying it as accepted over HTTP")
    relay_batch: int = Field(500, ge=1, le=10_000, description="outbox rows per confirmed batch "
                             "(`resetdesk relay --batch` wins)")
    relay_confirm_timeout_seconds: Seconds = Field(10.0, gt=0, description="wait for a batch's "
                                                   "confirms (`--confirm-timeout` wins)")
    management_url: str | None = Field(None, description="RabbitMQ's management API for the ops "
                                       "pages (default: http://<broker host>:15672 with the "
                                       "broker URL's user; `off`: passive declares only)")


class OpsSettings(Group):
    """Each long-running process's ops listener: ``/metrics``, ``/healthz``, ``/readyz``
    (docs/monitoring.md). `up` and `serve` answer them on their own HTTP port as well."""

    port: int = Field(0, ge=0, le=65535, description="port of this process's ops listener "
                      "(consumers, relay, scheduler, dead-letter archiver); 0: none. Give each "
                      "process on one host its own")
    host: str = Field("127.0.0.1", description="address the ops listener binds (`0.0.0.0` in a "
                      "container, so Prometheus and the healthcheck reach it)")


class CallbackSettings(Group):
    """Phone callbacks (docs/callbacks.md)."""

    slot_minutes: int = Field(30, ge=5, le=240, description="slot length")
    capacity: int = Field(2, ge=1, description="seats (agents who can call) per slot")
    max_failed_attempts: int = Field(3, ge=1, description="failed calls per cycle before the "
                                     "exhausted policy applies")
    exhausted_policy: Literal["requeue", "close"] = Field("requeue", description="`requeue` or "
                                                          "`close` (unreachable)")
    escalation: Literal["all", "first_reply", "none"] = Field(
        "first_reply", description="which SLA breaches book a callback")
    notice_minutes: int = Field(10, ge=0, description="earliest slot after a request")
    horizon_days: int = Field(30, ge=1, description="how far ahead to look for a free slot")
    link_hours: int = Field(72, ge=1, description="validity of the \"call me again\" link")


class KeySettings(Group):
    """Reset-key delivery (docs/reset-keys.md)."""

    hours_security_codes: Hours = Field(24, gt=0, description="validity of security codes")
    hours_key: Hours = Field(48, gt=0, description="validity of a key")
    hours_encrypted_file: Hours = Field(48, gt=0, description="validity of an encrypted file")
    link_days: float = Field(14, gt=0, description="lifetime of the confirm and report links "
                             "(must outlast the silent close)")
    max_file_bytes: int = Field(1_048_576, ge=1, description="largest encrypted file accepted")
    remind_after_business_days: int = Field(2, ge=0, description="silent customer: reminder")
    close_after_business_days: int = Field(5, ge=1, description="silent customer: ticket closed")

    @model_validator(mode="after")
    def _remind_before_close(self) -> KeySettings:
        if self.remind_after_business_days >= self.close_after_business_days:
            raise ValueError("RESETDESK_KEYS__REMIND_AFTER_BUSINESS_DAYS must be below "
                             "RESETDESK_KEYS__CLOSE_AFTER_BUSINESS_DAYS")
        return self


class SessionSettings(Group):
    """Remote-support sessions (docs/remote-session.md)."""

    code_minutes: Minutes = Field(15, gt=0, description="lifetime of a session code")
    consent_minutes: Minutes = Field(15, gt=0, description="between reading the terms and "
                                     "agreeing")
    token_minutes: Minutes = Field(480, gt=0, description="lifetime of the customer's session "
                                   "token")
    idle_minutes: Minutes = Field(30, gt=0, description="an idle session ends after this")
    max_failures: int = Field(5, ge=1, description="wrong codes that lock code entry")
    failure_window_minutes: Minutes = Field(15, gt=0, description="window of those failures")
    lockout_minutes: Minutes = Field(15, gt=0, description="how long code entry stays locked")


class ThrottleSettings(Group):
    """HTTP rate limits (docs/producers.md): 429 with Retry-After, counted across processes."""

    enabled: bool = Field(True, description="one switch for every HTTP rate limit; customer "
                          "code entry keeps its lock-out either way")
    signin_failures_per_login: int = Field(10, ge=1, description="agent sign-in failures per "
                                           "login per window")
    signin_failures_per_address: int = Field(50, ge=1, description="sign-in failures per client "
                                             "address per window")
    signin_window_minutes: Minutes = Field(15, gt=0, description="the sign-in window")
    customer_link_rate_per_minute: int = Field(60, ge=1, description="customer link pages per "
                                               "client address")
    intake_rate_per_minute: int = Field(6000, ge=1, description="`POST /events` per producer "
                                        "token")
    intake_status_rate_per_minute: int = Field(6000, ge=1, description="`GET /events/{id}` per "
                                               "producer token")


class LoggingSettings(Group):
    """One log setup for every process, on stderr (resetdesk/logs.py)."""

    format: Literal["human", "json"] = Field("human", description="`human` lines or `json` "
                                             "(one object per line)")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="root level (any case)")
    access: bool = Field(True, description="uvicorn's access log on or off")

    @field_validator("format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class RetentionSettings(Group):
    """Personal data (docs/privacy.md)."""

    days: int = Field(90, ge=0, description="days after a ticket closed before its personal "
                      "data is anonymised")
    attachment_days: int = Field(30, ge=0, description="days after a ticket closed before its "
                                 "attachments' content is purged")
