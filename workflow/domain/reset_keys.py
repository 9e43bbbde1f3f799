"""Reset keys: what an agent may return to unlock a device, how long each kind stays valid, and
when a customer who never answers is reminded and the ticket closed.

Pure: the business calendar arrives as a value. Validity is wall-clock time (the vendor's codes
are tied to dates, not to our office hours); the silence policy counts business days, because a
customer who got a key on Friday evening has not been silent over the weekend.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from workflow.domain.calendar import BusinessCalendar
from workflow.domain.errors import WorkflowError

KINDS = ("security_codes", "encrypted_file", "key")
TEXT_KINDS = frozenset({"security_codes", "key"})
MAX_TEXT = 2000
MAX_FILE_BYTES = 1_048_576
DEFAULT_MEDIA_TYPE = "application/octet-stream"
DEFAULT_FILENAME = "reset-key.bin"
#: confirm/report links outlive the silent close (5 business days plus holidays)
DEFAULT_LINK_DAYS = 14
#: audit reason of the silent close: names no person, only what happened
SILENT_REASON = "no answer after key sent"

_MEDIA_TYPE = re.compile(r"[a-zA-Z0-9][\w.+-]{0,39}/[a-zA-Z0-9][\w.+-]{0,39}", re.ASCII)
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\"\\/:*?<>|;]")


class InvalidArtifact(WorkflowError):
    """The agent's artifact cannot be sent as given (kind, missing text or file, too large)."""


class ArtifactOutcome(enum.Enum):
    """What became of an artifact; it has none while the customer tries it."""

    CONFIRMED = "confirmed"
    FAILED = "failed"
    EXPIRED = "expired"
    SILENT = "silent"
    #: the agent sent another one before the customer answered
    SUPERSEDED = "superseded"


def _hours(value: float) -> timedelta:
    return timedelta(hours=value)


@dataclass(frozen=True)
class KeyPolicy:
    """Validity per kind, the largest file accepted, how long the confirm and report links
    live, and when a silent customer is reminded and the ticket closed."""

    validity: Mapping[str, timedelta] = field(default_factory=lambda: {
        "security_codes": _hours(24), "encrypted_file": _hours(48), "key": _hours(48)})
    max_file_bytes: int = MAX_FILE_BYTES
    link_lifetime: timedelta = timedelta(days=DEFAULT_LINK_DAYS)
    silence: SilencePolicy = field(default_factory=lambda: SilencePolicy())

    def __post_init__(self) -> None:
        if set(self.validity) != set(KINDS) or any(v <= timedelta(0)
                                                   for v in self.validity.values()):
            raise ValueError(f"validity needs a positive duration for each of {KINDS}")
        if self.max_file_bytes < 1:
            raise ValueError("the file size limit must be positive")
        if self.link_lifetime <= timedelta(0):
            raise ValueError("the confirm and report links need a positive lifetime")

    def valid_until(self, kind: str, sent_at: datetime) -> datetime:
        return sent_at + self.validity[kind]


@dataclass(frozen=True)
class NewArtifact:
    """A validated artifact, in clear: only ever held in memory on its way to being sealed."""

    kind: str
    text: str | None = None
    content: bytes | None = None
    filename: str | None = None
    media_type: str | None = None

    @property
    def plaintext(self) -> bytes:
        return self.content if self.content is not None else (self.text or "").encode()


def _filename(name: str | None) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip(" .")
    return cleaned[-200:] or DEFAULT_FILENAME


def new_artifact(kind: str, *, text: str | None = None, content: bytes | None = None,
                 filename: str | None = None, media_type: str | None = None,
                 max_file_bytes: int = MAX_FILE_BYTES) -> NewArtifact:
    """Check what the agent gave: text for codes and keys, a bounded file for encrypted files."""
    if kind not in KINDS:
        raise InvalidArtifact(f"kind must be one of {', '.join(KINDS)}")
    if kind in TEXT_KINDS:
        body = (text or "").strip()
        if content is not None or not body or len(body) > MAX_TEXT:
            raise InvalidArtifact(f"{kind} needs a text of 1 to {MAX_TEXT} characters, no file")
        return NewArtifact(kind, text=body)
    if text or not content:
        raise InvalidArtifact("encrypted_file needs a non-empty file, no text")
    if len(content) > max_file_bytes:
        raise InvalidArtifact(f"the file is larger than {max_file_bytes} bytes")
    media = (media_type or "").split(";")[0].strip() or DEFAULT_MEDIA_TYPE
    if not _MEDIA_TYPE.fullmatch(media):
        media = DEFAULT_MEDIA_TYPE
    return NewArtifact(kind, content=content, filename=_filename(filename), media_type=media)


def is_business_day(calendar: BusinessCalendar, day_start: datetime) -> bool:
    """True when the local day starting at ``day_start`` holds any working time."""
    next_day = datetime.combine(day_start.date() + timedelta(days=1), time(0), calendar.zone)
    return calendar.business_time_between(day_start, next_day) > timedelta(0)


def business_days_after(calendar: BusinessCalendar, t: datetime, days: int) -> datetime:
    """The same local time of day, ``days`` business days after ``t``'s date: sent Friday
    10:00, two business days later is Tuesday 10:00 (Monday a holiday: Wednesday 10:00)."""
    if days < 0:
        raise ValueError("days must not be negative")
    local = t.astimezone(calendar.zone)
    day, counted = local.date(), 0
    for _ in range(days * 31 + 400):  # closures of a year or more would be a broken calendar
        if counted == days:
            return datetime.combine(day, local.timetz().replace(tzinfo=calendar.zone))
        day += timedelta(days=1)
        if is_business_day(calendar, datetime.combine(day, time(0), calendar.zone)):
            counted += 1
    raise ValueError("the calendar has no business day in sight")


@dataclass(frozen=True)
class SilencePolicy:
    """Remind after ``remind_after`` business days without an answer, close after
    ``close_after``. The close also waits ``close_after - remind_after`` business days after
    the reminder actually went, so a scheduler that was down never closes right after reminding."""

    remind_after: int = 2
    close_after: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.remind_after < self.close_after:
            raise ValueError("need 0 <= remind_after < close_after (business days)")

    def next_step(self, calendar: BusinessCalendar, sent_at: datetime,
                  reminded_at: datetime | None, now: datetime) -> str | None:
        """``"remind"``, ``"close"`` or None (nothing to do yet)."""
        if reminded_at is None:
            due = business_days_after(calendar, sent_at, self.remind_after)
            return "remind" if now >= due else None
        close_at = max(business_days_after(calendar, sent_at, self.close_after),
                       business_days_after(calendar, reminded_at,
                                           self.close_after - self.remind_after))
        return "close" if now >= close_at else None


#: link action -> URL path under the links' base URL (console/routes/customer_key.py serves them)
LINK_PATHS = {"confirm_key": "customer/key/confirm", "report_key": "customer/key/report",
              "get_key": "customer/key/get"}

Signer = Callable[[str, str, datetime], str]
"""(ticket id, action, expires at) -> token (``workflow.service.links.sign`` with the secret)."""


@dataclass(frozen=True)
class KeyLinks:
    """Customer links. The artifact link expires with the artifact; the confirm and report links
    live ``lifetime``, which must outlast the silent close."""

    sign: Signer
    base_url: str
    lifetime: timedelta = timedelta(days=DEFAULT_LINK_DAYS)

    def url(self, action: str, ticket_id: str, expires_at: datetime) -> str:
        token = self.sign(ticket_id, action, expires_at)
        return f"{self.base_url.rstrip('/')}/{LINK_PATHS[action]}/{token}"

    def answer_urls(self, ticket_id: str, now: datetime) -> dict[str, str | int | None]:
        until = now + self.lifetime
        return {"confirm_url": self.url("confirm_key", ticket_id, until),
                "report_url": self.url("report_key", ticket_id, until)}


def utc_text(at: datetime) -> str:
    """An instant every reader understands without a locale: ``2026-11-25 17:00 UTC``."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
