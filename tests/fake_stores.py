"""In-memory stores of the resolution paths and the scheduler, for the fake unit of work.

Their rows live in ``Tables``; a unit of work works on a deep copy taken when it begins and
puts it back on commit, so nothing is visible before ``commit`` and a rollback forgets it all.
The conditional updates keep the SQL stores' contracts the handlers rely on (a seat taken once,
an outcome settled once, a session ended once, a reminder noted once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workflow.domain.callback_slots import Attempt, Booking, Slot
from workflow.domain.reset_keys import ArtifactOutcome, NewArtifact
from workflow.domain.states import State, WaitingOn
from workflow.domain.throttle import CounterState
from workflow.domain.ticket_sla import Alarm
from workflow.service.callback_ports import CallbackStore
from workflow.service.key_ports import ArtifactStore, Sealer, StoredArtifact
from workflow.service.ports import AlarmLog
from workflow.service.presence import TTL, TYPING, PresenceStore
from workflow.service.session_ports import LiveCode, SessionRecord, SessionStore, StepRecord
from workflow.service.throttle import ThrottleCounters

if TYPE_CHECKING:
    from tests.fakes import FakeUnitOfWork


@dataclass
class Code:
    id: int
    ticket_id: str
    code_hash: str
    expires_at: datetime
    live: bool = True
    used_at: datetime | None = None


@dataclass
class Artifact:
    stored: StoredArtifact
    ciphertext: bytes | None
    created_by: str


@dataclass
class Tables:
    """What the fake database holds besides the tickets."""

    bookings: list[Booking] = field(default_factory=list)
    attempts: list[tuple[str, Attempt]] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    codes: list[Code] = field(default_factory=list)
    consents: list[tuple[str, str, str, int]] = field(default_factory=list)
    sessions: list[SessionRecord] = field(default_factory=list)
    live_sessions: dict[str, int] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    counters: dict[tuple[str, str], CounterState] = field(default_factory=dict)
    alarms: set[tuple[str, str, int, str]] = field(default_factory=set)
    #: (ticket, login) -> (activity, expires_at, typing_until)
    presence: dict[tuple[str, str], tuple[str, datetime, datetime | None]] = field(
        default_factory=dict)


class _Part:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    @property
    def t(self) -> Tables:
        return self.uow.data


class FakeCallbacks(_Part, CallbackStore):
    def active_booking(self, ticket_id: str) -> Booking | None:
        return next((b for b in reversed(self.t.bookings)
                     if b.ticket_id == ticket_id and b.active), None)

    def bookings(self, ticket_id: str) -> list[Booking]:
        return [b for b in self.t.bookings if b.ticket_id == ticket_id]

    def seats_taken(self, start: datetime, end: datetime) -> dict[datetime, int]:
        taken: dict[datetime, int] = {}
        for b in self.t.bookings:
            if b.active and start <= b.slot.start < end:
                taken[b.slot.start] = taken.get(b.slot.start, 0) + 1
        return taken

    def try_book(self, ticket_id: str, slot: Slot, capacity: int, requested_by: str,
                 now: datetime) -> Booking | None:
        held = {b.seat for b in self.t.bookings if b.active and b.slot.start == slot.start}
        seat = next((s for s in range(1, capacity + 1) if s not in held), None)
        if seat is None:
            return None
        booking = Booking(len(self.t.bookings) + 1, ticket_id, slot, seat, "booked",
                          requested_by, True)
        self.t.bookings.append(booking)
        return booking

    def release(self, booking_id: int, status: str, now: datetime) -> None:
        self.t.bookings = [replace(b, active=False, status=status)
                           if b.id == booking_id and b.active else b for b in self.t.bookings]

    def add_attempt(self, ticket_id: str, attempt: Attempt) -> None:
        self.t.attempts.append((ticket_id, attempt))

    def attempts(self, ticket_id: str) -> list[Attempt]:
        return [a for tid, a in self.t.attempts if tid == ticket_id]

    def release_orphans(self, now: datetime) -> int:
        moved_on = {tid for tid, t in self.uow.view.items()
                    if t.state is not State.AWAITING_CALLBACK}
        orphans = [b.id for b in self.t.bookings if b.active and b.ticket_id in moved_on]
        for booking_id in orphans:
            self.release(booking_id, "cancelled", now)
        return len(orphans)


class FakeKeys(_Part, ArtifactStore):
    def add(self, ticket_id: str, artifact: NewArtifact, ciphertext: bytes, created_by: str,
            now: datetime, valid_until: datetime) -> int:
        art_id = len(self.t.artifacts) + 1
        self.t.artifacts.append(Artifact(StoredArtifact(
            art_id, ticket_id, artifact.kind, artifact.filename, artifact.media_type, now,
            valid_until, None, None), ciphertext, created_by))
        return art_id

    def latest(self, ticket_id: str) -> StoredArtifact | None:
        return next((a.stored for a in reversed(self.t.artifacts)
                     if a.stored.ticket_id == ticket_id), None)

    def _set(self, artifact_id: int, **values: Any) -> bool:
        """Change a pending artifact (``WHERE outcome IS NULL``); False if it is settled."""
        for a in self.t.artifacts:
            if a.stored.id == artifact_id and a.stored.outcome is None:
                a.stored = replace(a.stored, **values)
                return True
        return False

    def settle(self, artifact_id: int, outcome: ArtifactOutcome, now: datetime) -> bool:
        return self._set(artifact_id, outcome=outcome.value)

    def supersede_pending(self, ticket_id: str, now: datetime) -> int:
        pending = [a.stored.id for a in self.t.artifacts
                   if a.stored.ticket_id == ticket_id and a.stored.outcome is None]
        for art_id in pending:
            self.settle(art_id, ArtifactOutcome.SUPERSEDED, now)
        return len(pending)

    def mark_reminded(self, artifact_id: int, now: datetime) -> bool:
        art = next(a.stored for a in self.t.artifacts if a.stored.id == artifact_id)
        return art.reminder_sent_at is None and self._set(artifact_id, reminder_sent_at=now)

    def awaiting_answer(self, after_id: int, limit: int) -> list[StoredArtifact]:
        def waiting(ticket_id: str) -> bool:
            t = self.uow.view.get(ticket_id)
            return t is not None and t.is_open and t.waiting_on is WaitingOn.KEY_CONFIRMATION

        return [a.stored for a in self.t.artifacts if a.stored.outcome is None
                and a.ciphertext is not None and a.stored.id > after_id
                and waiting(a.stored.ticket_id)][:limit]

    def ciphertext(self, artifact_id: int) -> bytes | None:
        return next(a.ciphertext for a in self.t.artifacts if a.stored.id == artifact_id)


class FakeCounters(_Part, ThrottleCounters):
    def counter(self, scope: str, key: str, now: datetime) -> CounterState:
        return self.t.counters.setdefault((scope, key), CounterState(now))

    def save_counter(self, scope: str, key: str, state: CounterState) -> None:
        self.t.counters[(scope, key)] = state

    def prune_throttle(self, before: datetime) -> int:
        gone = [k for k, s in self.t.counters.items() if s.window_start < before
                and (s.locked_until is None or s.locked_until < before)]
        for k in gone:
            del self.t.counters[k]
        return len(gone)


class FakeSessions(FakeCounters, SessionStore):
    def issue_code(self, ticket_id: str, code_hash: str, created_by: str, now: datetime,
                   expires_at: datetime) -> int:
        for code in self.t.codes:
            if code.ticket_id == ticket_id:
                code.live = False
        self.t.codes.append(Code(len(self.t.codes) + 1, ticket_id, code_hash, expires_at))
        return len(self.t.codes)

    def live_code(self, ticket_id: str) -> LiveCode | None:
        return next((LiveCode(c.id, c.code_hash, c.expires_at) for c in self.t.codes
                     if c.ticket_id == ticket_id and c.live), None)

    def use_code(self, code_id: int, ticket_id: str, now: datetime) -> bool:
        for c in self.t.codes:
            if c.id == code_id and c.ticket_id == ticket_id and c.live and now < c.expires_at:
                c.live, c.used_at = False, now
                return True
        return False

    def add_consent(self, ticket_id: str, terms_version: str, language: str, at: datetime,
                    source_addr: str | None, code_id: int) -> None:
        self.t.consents.append((ticket_id, terms_version, language, code_id))

    def _update(self, session_id: int, **values: Any) -> None:
        self.t.sessions = [replace(s, **values) if s.id == session_id else s
                           for s in self.t.sessions]

    def open_session(self, ticket_id: str, now: datetime) -> int:
        stale = self.t.live_sessions.pop(ticket_id, None)
        if stale is not None:
            self._update(stale, ended_at=now, end_reason="superseded")
        session = SessionRecord(len(self.t.sessions) + 1, ticket_id, now, now)
        self.t.sessions.append(session)
        self.t.live_sessions[ticket_id] = session.id
        return session.id

    def live_session(self, ticket_id: str) -> SessionRecord | None:
        live = self.t.live_sessions.get(ticket_id)
        return next((s for s in self.t.sessions if s.id == live), None)

    def touch(self, session_id: int, now: datetime) -> None:
        session = next(s for s in self.t.sessions if s.id == session_id)
        if session.ended_at is None and session.last_activity_at < now:
            self._update(session_id, last_activity_at=now)

    def end_session(self, session_id: int, now: datetime, reason: str, by: str,
                    idle_before: datetime | None = None) -> bool:
        session = next(s for s in self.t.sessions if s.id == session_id)
        if session.ended_at is not None or (
                idle_before is not None and session.last_activity_at > idle_before):
            return False
        self._update(session_id, ended_at=now, end_reason=reason)
        self.t.live_sessions.pop(session.ticket_id, None)
        return True

    def idle_sessions(self, before: datetime, limit: int) -> list[SessionRecord]:
        idle = [s for s in self.t.sessions if s.ended_at is None and s.last_activity_at <= before]
        return sorted(idle, key=lambda s: s.last_activity_at)[:limit]

    def add_step(self, ticket_id: str, session_id: int, kind: str, description: str, by: str,
                 now: datetime) -> int:
        step = StepRecord(len(self.t.steps) + 1, session_id, kind, description, "pending", now)
        self.t.steps.append(step)
        return step.id

    def decide_step(self, step_id: int, session_id: int, decision: str,
                    now: datetime) -> StepRecord | None:
        for i, s in enumerate(self.t.steps):
            if s.id == step_id and s.session_id == session_id and s.decision == "pending":
                self.t.steps[i] = replace(s, decision=decision, decided_at=now)
                return self.t.steps[i]
        return None

    def steps(self, session_id: int) -> list[StepRecord]:
        return [s for s in self.t.steps if s.session_id == session_id]


class FakeAlarms(_Part, AlarmLog):
    """The alarm log's unique key (ticket, clock, cycle, level): a second raise is a no-op."""

    def record(self, ticket_id: str, alarm: Alarm, now: datetime) -> bool:
        return bool(self.record_many([(ticket_id, alarm)], now))

    def record_many(self, alarms: Sequence[tuple[str, Alarm]],
                    now: datetime) -> set[tuple[str, str, int, str]]:
        new = {(tid, a.clock, a.cycle, a.level) for tid, a in alarms} - self.t.alarms
        self.t.alarms |= new
        return new


class FakeSealer(Sealer):
    """Reversible and bound to its context, like the real one (not secret at all)."""

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        return context + b"|" + plaintext[::-1]

    def open(self, ciphertext: bytes, context: bytes) -> bytes:
        if not ciphertext.startswith(context + b"|"):
            raise ValueError("sealed for another ticket or kind")
        return ciphertext[len(context) + 1:][::-1]


class FakePresence(_Part, PresenceStore):
    def mark(self, ticket_id: str, login: str, activity: str, now: datetime) -> None:
        rows = self.t.presence
        for key in [k for k, v in rows.items() if k[0] == ticket_id and v[1] <= now]:
            del rows[key]
        _, _, typing_until = rows.get((ticket_id, login), ("viewing", now, None))
        if activity == "typing":
            typing_until = now + TYPING
        elif typing_until is not None and typing_until > now:
            activity = "typing"
        rows[(ticket_id, login)] = (activity, now + TTL, typing_until)

    def prune(self, now: datetime) -> int:
        gone = [k for k, v in self.t.presence.items() if v[1] <= now]
        for key in gone:
            del self.t.presence[key]
        return len(gone)
