"""The settings groups mapped onto the domain's policies: the one place that knows both (the
domain keeps plain dataclasses that know nothing of pydantic or of the environment)."""

from __future__ import annotations

from datetime import timedelta

from resetdesk.settings import Settings
from resetdesk.settings_groups import (
    CallbackSettings,
    KeySettings,
    RetrySettings,
    SessionSettings,
    ThrottleSettings,
)
from workflow.domain.callback_slots import CallbackPolicy
from workflow.domain.policies import Policies
from workflow.domain.reset_keys import KeyPolicy, SilencePolicy
from workflow.domain.retry import RetryPolicy
from workflow.domain.session_codes import SessionPolicy, ThrottlePolicy
from workflow.domain.throttle import ThrottleLimits, default_rules


def callback_policy(s: CallbackSettings) -> CallbackPolicy:
    return CallbackPolicy(slot_minutes=s.slot_minutes, capacity=s.capacity,
                          max_failed_attempts=s.max_failed_attempts, exhausted=s.exhausted_policy,
                          escalation=s.escalation, notice_minutes=s.notice_minutes,
                          horizon_days=s.horizon_days, link_hours=s.link_hours)


def key_policy(s: KeySettings) -> KeyPolicy:
    return KeyPolicy(
        validity={"security_codes": timedelta(hours=s.hours_security_codes),
                  "key": timedelta(hours=s.hours_key),
                  "encrypted_file": timedelta(hours=s.hours_encrypted_file)},
        max_file_bytes=s.max_file_bytes, link_lifetime=timedelta(days=s.link_days),
        silence=SilencePolicy(s.remind_after_business_days, s.close_after_business_days))


def session_policy(s: SessionSettings) -> SessionPolicy:
    return SessionPolicy(
        code_ttl=timedelta(minutes=s.code_minutes),
        consent_ttl=timedelta(minutes=s.consent_minutes),
        session_token_ttl=timedelta(minutes=s.token_minutes),
        idle=timedelta(minutes=s.idle_minutes),
        throttle=ThrottlePolicy(max_failures=s.max_failures,
                                window=timedelta(minutes=s.failure_window_minutes),
                                lockout=timedelta(minutes=s.lockout_minutes)))


def throttle_limits(s: ThrottleSettings) -> ThrottleLimits:
    return ThrottleLimits(enabled=s.enabled, rules=default_rules(
        signin_failures_per_login=s.signin_failures_per_login,
        signin_failures_per_address=s.signin_failures_per_address,
        signin_window_minutes=s.signin_window_minutes,
        customer_link_rate_per_minute=s.customer_link_rate_per_minute,
        intake_rate_per_minute=s.intake_rate_per_minute,
        intake_status_rate_per_minute=s.intake_status_rate_per_minute))


def retry_policy(s: RetrySettings) -> RetryPolicy:
    return RetryPolicy(max_attempts=s.max_attempts, delays=tuple(s.delays_seconds))


def policies(s: Settings) -> Policies:
    return Policies(callbacks=callback_policy(s.callbacks), keys=key_policy(s.keys),
                    sessions=session_policy(s.sessions), throttle=throttle_limits(s.throttle))
