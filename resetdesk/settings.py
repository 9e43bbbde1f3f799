"""All settings in one place, read from ``RESETDESK_*`` environment variables (or a ``.env``).

No broker URL selects the embedded default: SQLite is both the store and the durable queue.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RESETDESK_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("."), description="where the embedded SQLite file lives")
    database_url: str | None = Field(default=None, description="default: SQLite in data_dir")
    broker_url: str | None = Field(default=None, description="amqp://…; unset = embedded mode")

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(default=None, description="base URL used in emails and links")

    # embedded queue workers
    workers: int = 2
    lease_seconds: float = 60.0
    max_attempts: int = 5
    retry_delays_seconds: list[float] = [1.0, 5.0, 30.0, 120.0]

    #: signs customer links; `up` creates data_dir/secret.key when unset; production must set it
    secret_key: str | None = None

    # verification
    model_rules_path: Path | None = None
    regional_offices_path: Path | None = None
    human_check: str = Field(default="local", description="local | siteverify")
    siteverify_url: str | None = None
    siteverify_secret: str | None = None
    siteverify_timeout_seconds: float = 5.0

    # notifications
    smtp_host: str | None = Field(default=None, description="unset: write .eml files to data_dir/mail")
    smtp_port: int = 25
    smtp_from: str = "ResetDesk <support@resetdesk.invalid>"
    smtp_timeout_seconds: float = 10.0

    # business calendar and SLA (docs/calendar.md)
    calendar_path: Path | None = Field(default=None, description="TOML; default: packaged")
    first_reply_hours: float = 1.0
    resolution_hours: float = 31.5
    at_risk_ratio: float = 0.8
    scheduler_interval_seconds: float = 5.0

    # RabbitMQ consumers (production)
    amqp_prefetch: int = 10
    amqp_heartbeat: int = 60
    #: handler threads per consumer process: a message waits on the database most of the time,
    #: so two overlap well; order across messages is not promised (each is its own ticket)
    amqp_workers: int = 2
    #: the RabbitMQ user the relay publishes as (default: the user in broker_url): the
    #: verification consumer trusts a request carrying this user_id as one accepted over HTTP
    amqp_system_user: str | None = None

    # phone callbacks (docs/callbacks.md)
    callback_slot_minutes: int = 30
    callback_capacity: int = 2
    callback_max_failed_attempts: int = 3
    callback_exhausted_policy: str = Field(default="requeue", description="requeue | close")
    callback_escalation: str = Field(default="first_reply", description="all | first_reply | none")
    callback_notice_minutes: int = 10
    callback_horizon_days: int = 30
    callback_link_hours: int = 72

    # reset-key delivery (docs/reset-keys.md)
    key_hours_security_codes: int = 24
    key_hours_key: int = 48
    key_hours_encrypted_file: int = 48
    key_link_days: int = 14
    key_max_file_bytes: int = 1_048_576
    key_remind_after_business_days: int = 2
    key_close_after_business_days: int = 5

    # remote-support sessions (docs/remote-session.md)
    session_code_minutes: int = 15
    session_consent_minutes: int = 15
    session_token_minutes: int = 480
    session_idle_minutes: int = 30
    session_max_failures: int = 5
    session_failure_window_minutes: int = 15
    session_lockout_minutes: int = 15

    # rate limits (docs/producers.md; answered with 429 and Retry-After), shared by every process
    #: one switch for every HTTP rate limit (tests that fuzz routes turn it off); customer code
    #: entry keeps its lock-out (session_max_failures) either way
    throttle_enabled: bool = True
    signin_failures_per_login: int = 10
    signin_failures_per_address: int = 50
    signin_window_minutes: int = 15
    customer_link_rate_per_minute: int = 60
    #: per producer token; load tests post thousands a minute
    intake_rate_per_minute: int = 6000
    intake_status_rate_per_minute: int = 6000

    # logging (resetdesk/logs.py): human | json lines on stderr; uvicorn's access log on or off
    log_format: str = Field(default="human", description="human | json")
    log_level: str = "INFO"
    log_access: bool = True

    # personal data
    retention_days: int = 90
    attachment_retention_days: int = 30
    max_export_bytes: int = 1_048_576

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'resetdesk.db').resolve()}"

    @property
    def embedded(self) -> bool:
        return not self.broker_url
