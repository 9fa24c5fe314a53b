"""Engines, driver errors turned into the tree, the library's own MetaData, and the batched upsert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from numbersearch.db import make_engine, masked_database_url
from numbersearch.errors import DatabaseError, InputError
from numbersearch.models import REGULATIONS, Regulation, SyncJob
from numbersearch.store import upsert


def _regulation(sid: str, name: str, when: datetime) -> dict:
    return {
        "sid": sid,
        "friendly_name": name,
        "iso_country": "DE",
        "number_type": "local",
        "end_user_type": "business",
        "requirements": {"end_user": [{"name": "Business"}], "supporting_document": [[]]},
        "url": f"https://numbers.example/v2/RegulatoryCompliance/Regulations/{sid}",
        "last_updated": when,
        "synced_at": when,
    }


def test_upsert_inserts_then_updates(database_url: str) -> None:
    engine = make_engine(database_url)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [_regulation(f"RN{i:032x}", f"Germany {i}", t0) for i in range(1203)]
    with engine.begin() as conn:
        assert upsert(conn, Regulation.__table__, rows, ["sid"]) == 1203
    changed = [_regulation(r["sid"], r["friendly_name"] + " v2", t0 + timedelta(days=1)) for r in rows[:5]]
    with engine.begin() as conn:
        upsert(conn, Regulation.__table__, changed, ["sid"])
        stored = conn.execute(sa.select(Regulation.__table__).order_by(Regulation.__table__.c.sid)).mappings().all()
    assert len(stored) == 1203
    assert stored[0]["friendly_name"] == "Germany 0 v2"
    assert stored[0]["last_updated"] == t0 + timedelta(days=1)
    assert stored[0]["requirements"] == rows[0]["requirements"]
    assert stored[6]["friendly_name"] == "Germany 6"
    engine.dispose()


def test_one_active_job_per_type_is_enforced_by_the_database(database_url: str) -> None:
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    table = SyncJob.__table__
    with engine.begin() as conn:
        conn.execute(sa.insert(table).values(job_id="a", sync_type="regulations", status="in_progress", created_at=now))
        conn.execute(sa.insert(table).values(job_id="b", sync_type="number_types", status="pending", created_at=now))
        conn.execute(sa.insert(table).values(job_id="c", sync_type="regulations", status="failed", created_at=now))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.insert(table).values(job_id="d", sync_type="regulations", status="pending", created_at=now))
    engine.dispose()


def test_unopenable_databases_give_one_clear_line() -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        make_engine("sqlite:////no/such/folder/x.db")
    masked = r"database postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/x: connection failed"
    with pytest.raises(DatabaseError, match=masked):
        make_engine("postgresql+psycopg://u:pw-secret@127.0.0.1:1/x")
    with pytest.raises(DatabaseError, match="not a database URL"):
        make_engine("definitely not a url")


def test_masked_database_url_hides_the_password() -> None:
    assert masked_database_url("postgresql+psycopg://u:pw-secret@db/x") == "postgresql+psycopg://u:***@db/x"


def test_driver_errors_reach_callers_as_the_trees_own(database_url: str) -> None:
    engine = make_engine(database_url)
    with pytest.raises(DatabaseError, match="no_such_table"), engine.connect() as conn:
        conn.execute(sa.text("SELECT * FROM no_such_table"))
    engine.dispose()


def test_a_value_the_database_cannot_hold_is_an_input_error(postgres_url: str) -> None:
    # PostgreSQL text cannot hold a NUL byte: the sid a user typed is at fault, not the server.
    engine = make_engine(postgres_url)
    with pytest.raises(InputError, match="cannot hold"), engine.connect() as conn:
        conn.execute(sa.select(REGULATIONS).where(REGULATIONS.c.sid == "RN\x00x")).all()
    engine.dispose()


def test_an_analysts_own_tables_never_land_in_numbersearchs_database(tmp_path) -> None:
    from sqlmodel import Field, SQLModel

    class Notes(SQLModel, table=True):  # an analyst's own model, in the default SQLModel registry
        __tablename__ = "analyst_notes"
        id: int = Field(primary_key=True)

    engine = make_engine(f"sqlite:///{tmp_path / 'ns.db'}")
    assert "analyst_notes" not in sa.inspect(engine).get_table_names()
    assert {"country_number_types", "regulations", "sync_jobs"} <= set(sa.inspect(engine).get_table_names())
    assert "regulations" not in SQLModel.metadata.tables
    SQLModel.metadata.remove(Notes.__table__)
    engine.dispose()


def test_a_connection_killed_while_idle_is_replaced_silently(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numbersearch.db as db

    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)  # every checkin counts as idle long enough
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        first_pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    killer = make_engine(postgres_url)
    with killer.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid}).scalar_one()
    killer.dispose()
    with engine.connect() as conn:  # the dead pooled connection is pinged, discarded and replaced
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != first_pid
    engine.dispose()


def test_one_statement_commits_on_both_dialects(database_url: str) -> None:
    from numbersearch.db import one_statement

    engine = make_engine(database_url)
    now = datetime.now(UTC)
    with one_statement(engine) as conn:
        conn.execute(sa.insert(SyncJob.__table__).values(job_id="x", sync_type="regulations", created_at=now))
    with engine.connect() as conn:
        assert conn.execute(sa.select(SyncJob.__table__.c.job_id)).scalars().all() == ["x"]
    engine.dispose()
