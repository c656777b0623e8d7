"""Migration 0020 (organisations and collectives) keeps the ballots already counted: on
SQLite it rebuilds ballot_candidates, whose drop would cascade to ballot_counts."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import text

from storage.db import Database
from storage.db import alembic_config


async def _upgrade_to(db: Database, revision: str) -> None:
    def run(connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def test_counted_ballots_survive_the_units_migration(database_url):
    db = Database(database_url)
    try:
        await _upgrade_to(db, "0019")
        async with db.engine.begin() as conn:
            for statement in (
                "INSERT INTO organisations (id, code, name, kind, path, depth, created_at, updated_at)"
                " VALUES (1, 'CB1', 'Chi bộ 1', 'grassroots_cell', '/1/', 0, :t, :t)",
                "INSERT INTO members (id, code, full_name, org_id, status, admitted_on, exempt,"
                " suspended, committee_suspended, leader, head, outside_political_system,"
                " sick_leave_months, maternity, discipline_in_official_duties, created_at, updated_at)"
                " VALUES (1, 'DV1', 'Nguyễn Văn A', 1, 'official', '2000-01-01', false, false, false,"
                " false, false, false, 0, false, false, :t, :t)",
                "INSERT INTO cycles (id, org_id, year, rulebook, finish_by, report_by, created_at)"
                " VALUES (1, 1, 2026, 'qd366-2025', '2026-12-31', '2027-01-15', :t)",
                "INSERT INTO meetings (id, cycle_id, org_id, scheduled_at, updated_at)"
                " VALUES (1, 1, 1, :t, :t)",
                "INSERT INTO ballot_rounds (id, meeting_id, number, state, counting_rule,"
                " denominator_rule, opened_by, opened_at) VALUES (1, 1, 1, 'closed', 'cumulative',"
                " 'convened', 'cli', :t)",
                "INSERT INTO ballot_candidates (round_id, position, candidate_id, adopted_level,"
                " undecided) VALUES (1, 0, 1, 'HTT', false)",
                "INSERT INTO ballot_counts (round_id, position, level, votes) VALUES (1, 0, 'HTT', 3)",
                "INSERT INTO ballot_counts (round_id, position, level, votes) VALUES (1, 0, 'HT', 1)",
            ):
                await conn.execute(text(statement), {"t": dt.datetime(2026, 12, 1, 1, tzinfo=dt.UTC)})
        await _upgrade_to(db, "0020")
        async with db.engine.connect() as conn:
            counts = (await conn.execute(text(
                "SELECT level, votes FROM ballot_counts ORDER BY level"))).all()
            candidate = (await conn.execute(text(
                "SELECT candidate_id, review_id, adopted_level FROM ballot_candidates"))).one()
            kind = (await conn.execute(text("SELECT kind FROM ballot_rounds"))).scalar_one()
        assert [tuple(row) for row in counts] == [("HT", 1), ("HTT", 3)]
        assert tuple(candidate) == (1, None, "HTT")
        assert kind == "members"
    finally:
        await db.dispose()
