"""The private cluster the fault tests crash: durable settings, and a committed row survives an
immediate stop (no shutdown checkpoint: WAL replay at the next start)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests import private_postgres as private_pg
from tests.private_postgres import PrivatePostgres

pytestmark = [pytest.mark.postgres]
private_postgres = private_pg.private_postgres  # fixture


def test_a_committed_row_survives_an_immediate_stop(private_postgres: PrivatePostgres) -> None:
    url = private_postgres.create_database("durable")
    engine = create_engine(url, pool_pre_ping=True)
    try:
        with engine.begin() as conn:
            settings = {name: conn.execute(text(f"SHOW {name}")).scalar_one()
                        for name in ("fsync", "synchronous_commit", "full_page_writes")}
            conn.execute(text("CREATE TABLE t (n int)"))
            conn.execute(text("INSERT INTO t SELECT generate_series(1, 1000)"))
        stopped = private_postgres.stop("immediate")
        assert not private_postgres.running()
        started = private_postgres.start()
        restarted = private_postgres.restart("fast")
        with engine.begin() as conn:
            count = conn.execute(text("SELECT count(*) FROM t")).scalar_one()
    finally:
        engine.dispose()
    print(f"immediate stop {stopped:.1f} s, start with WAL replay {started:.1f} s, "
          f"fast restart {restarted:.1f} s")
    assert settings == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    assert count == 1000
    assert "redo" in private_postgres.log_file.read_text(errors="replace")  # it did replay
