"""What of an unexpected error is stored or sent on (inbox.last_error, retry headers): never the
SQL parameters, which carry the customer's data."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from workflow.domain.errors import brief


def test_a_database_error_keeps_its_first_line_and_drops_the_parameters() -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (email TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO t VALUES (:e)"), {"e": "dana@example.com"})
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:e)"), {"e": "dana@example.com"})
    except IntegrityError as err:
        assert "dana@example.com" in str(err), "the raw error does carry the parameters"
        kept = brief(err)
    assert kept.startswith("IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed")
    assert "dana@example.com" not in kept and "[parameters" not in kept


def test_an_empty_message_and_a_long_one() -> None:
    assert brief(RuntimeError()) == "RuntimeError: "
    assert len(brief(ValueError("x" * 1000))) == 300
