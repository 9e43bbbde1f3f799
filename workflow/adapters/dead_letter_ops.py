"""Retry and discard dead letters of both transports, one letter or many, each audited.

A retry sends a letter back to where it died once the cause is fixed: an archived AMQP letter
is republished to its exchange (``dead_letters.replay``, through the ``republish`` port); an
embedded inbox or delivery row becomes ``pending`` again with its attempts reset, so the
workers take it up as new. A discard marks the letter ``discarded`` (nothing is deleted). Each
action writes one audit row (actor, ``dlq_replay``/``dlq_discard``, the letter's key in
``outcome``, the reason) in the transaction that changes the letter.

A letter that died for a permanent reason (wrong source, forged, invalid) is not retried unless
the caller confirms it (``confirm_permanent``): replayed as it is, it would be refused again.
Many letters are acted on one by one; a refusal stops only its own letter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from workflow.adapters import dead_letters
from workflow.adapters.db import Database
from workflow.adapters.queries.dead_letter_view import Letter, audit_key, find
from workflow.adapters.tables import AUDIT, DELIVERY, INBOX, TICKET
from workflow.domain.errors import WorkflowError, brief
from workflow.service.dead_letter_ports import DeadLetterActions, Outcome

log = logging.getLogger(__name__)
Republish = Callable[[dead_letters.DeadLetter], None]
RETRIED = "retried"
DISCARDED = "discarded"


def check_action(actor: str, why: str) -> str:
    """The reason, stripped; ``ValueError`` unless actor and reason are as the audit needs."""
    if not actor.startswith(dead_letters.ACTOR_PREFIXES) or actor in dead_letters.ACTOR_PREFIXES:
        raise ValueError(f"actor must be agent:<login> or system:ops:<user>, not {actor!r}")
    why = why.strip()
    if not why or len(why) > dead_letters.MAX_REASON:
        raise ValueError(f"a reason of 1 to {dead_letters.MAX_REASON} characters is required")
    return why


def permanent_warning(letter: Letter) -> str:
    return (f"died for a permanent reason ({letter.code}): {letter.reason[:200]}; retried as it "
            "is, it will be refused again unless the cause was fixed; confirm to retry anyway")


def _audit(conn: Connection, letter: Letter, *, trigger: str, to_state: str, actor: str,
           why: str, now: datetime, subject: str | None) -> None:
    ticket = None
    if subject and len(subject) <= 32:
        ticket = conn.execute(select(TICKET.c.id).where(TICKET.c.id == subject)).scalar()
    conn.execute(insert(AUDIT).values(
        ticket_id=ticket or audit_key(letter.key), at=now, actor=actor[:80], trigger=trigger,
        from_state=dead_letters.AUDIT_FROM, to_state=to_state, outcome=letter.key[:40],
        reason=why))


def _embedded(db: Database, letter: Letter, *, retry: bool, actor: str, why: str,
              now: datetime) -> bool:
    """Move one embedded row out of ``dead``: False when it is no longer dead."""
    kind, _, ident = letter.key.partition(":")
    if retry:
        values = {"status": "pending", "attempts": 0, "available_at": now, "processed_at": None}
    else:
        values = {"status": DISCARDED, "processed_at": now}
    with db.writer.begin() as conn:
        if kind == "inbox":
            stmt = update(INBOX).where(INBOX.c.reference == ident, INBOX.c.status == "dead")
            changed = conn.execute(stmt.values(lease_until=None, **values)).rowcount
            subject = None
        else:
            stmt = update(DELIVERY).where(DELIVERY.c.id == int(ident), DELIVERY.c.status == "dead")
            changed = conn.execute(stmt.values(**values)).rowcount
            subject = conn.execute(select(DELIVERY.c.payload).where(
                DELIVERY.c.id == int(ident))).scalar()
            parsed = dead_letters.json_object((subject or "").encode("utf-8"))
            subject = parsed.get("subject") if parsed else None
        if changed != 1:
            return False
        _audit(conn, letter, trigger="dlq_replay" if retry else "dlq_discard",
               to_state=dead_letters.REPLAYED if retry else DISCARDED, actor=actor, why=why,
               now=now, subject=subject if isinstance(subject, str) else None)
    return True


def _gone(letter: Letter | None) -> str:
    if letter is None:
        return "no dead letter by this key (retried or discarded already?)"
    at = f"{letter.acted_at:%Y-%m-%d %H:%M}Z" if letter.acted_at else "?"
    return f"already {letter.status} by {letter.acted_by} at {at}"


def retry(db: Database, key: str, *, actor: str, why: str, now: datetime,
          republish: Republish | None, confirm_permanent: bool = False) -> Outcome:
    """Send one dead letter back to its origin (see the module's docstring)."""
    why = check_action(actor, why)
    letter = find(db, key)
    if letter is None or letter.status != dead_letters.DEAD:
        return Outcome(key, False, _gone(letter))
    if letter.permanent and not confirm_permanent:
        return Outcome(key, False, permanent_warning(letter))
    if letter.transport == "amqp":
        if republish is None:
            return Outcome(key, False, "no broker is configured to republish it to")
        try:
            dead_letters.replay(db, int(key.split(":", 1)[1]), republish=republish,
                                actor=actor, why=why, now=now)
        except Exception as err:  # the port raises whatever the broker did, and
            # one failed publish must not stop the other letters (nothing changed for it)
            return Outcome(key, False, f"not retried: {brief(err)}")
    elif not _embedded(db, letter, retry=True, actor=actor, why=why, now=now):
        return Outcome(key, False, "no longer dead (retried or discarded meanwhile)")
    log.info("dead letter %s retried by %s: %s", key, actor, why)
    return Outcome(key, True, RETRIED)


def discard(db: Database, key: str, *, actor: str, why: str, now: datetime) -> Outcome:
    """Mark one dead letter as not to be retried; its row stays."""
    why = check_action(actor, why)
    letter = find(db, key)
    if letter is None or letter.status != dead_letters.DEAD:
        return Outcome(key, False, _gone(letter))
    if letter.transport == "amqp":
        try:
            dead_letters.discard(db, int(key.split(":", 1)[1]), actor=actor, why=why, now=now)
        except WorkflowError as err:
            return Outcome(key, False, str(err))
    elif not _embedded(db, letter, retry=False, actor=actor, why=why, now=now):
        return Outcome(key, False, "no longer dead (retried or discarded meanwhile)")
    log.info("dead letter %s discarded by %s: %s", key, actor, why)
    return Outcome(key, True, DISCARDED)


def retry_many(db: Database, keys: Iterable[str], *, actor: str, why: str, now: datetime,
               republish: Republish | None, confirm_permanent: bool = False) -> list[Outcome]:
    why = check_action(actor, why)
    return [retry(db, k, actor=actor, why=why, now=now, republish=republish,
                  confirm_permanent=confirm_permanent) for k in dict.fromkeys(keys)]


def discard_many(db: Database, keys: Iterable[str], *, actor: str, why: str,
                 now: datetime) -> list[Outcome]:
    why = check_action(actor, why)
    return [discard(db, k, actor=actor, why=why, now=now) for k in dict.fromkeys(keys)]


class SqlDeadLetterActions(DeadLetterActions):
    """The port over a database; ``republish``: the broker's (None without a broker)."""

    def __init__(self, db: Database, republish: Republish | None = None) -> None:
        self.db = db
        self.republish = republish

    def retry(self, keys: Iterable[str], *, actor: str, why: str, now: datetime,
              confirm_permanent: bool = False) -> list[Outcome]:
        return retry_many(self.db, keys, actor=actor, why=why, now=now,
                          republish=self.republish, confirm_permanent=confirm_permanent)

    def discard(self, keys: Iterable[str], *, actor: str, why: str,
                now: datetime) -> list[Outcome]:
        return discard_many(self.db, keys, actor=actor, why=why, now=now)
