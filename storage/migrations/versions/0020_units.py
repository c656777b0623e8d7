"""organisations and collectives (issue 14): unit reviews (report, draft and members' score
sheets, adjustments, comments), participants' opinions, unit ratings with their history and
appeals, per-unit plan settings; unit candidates in the ballot; prompts to collectives; the
meeting's order reason and conclusions; participants' roles need no schema

Revision ID: 0020
Revises: 0019
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str | None = "CASCADE") -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete=ondelete
    )


def _review_child(table: str, *columns: sa.Column, pk: str = "id") -> None:
    """A table of rows that belong to a unit review."""
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        *columns,
        _fk(table, "review_id", "unit_reviews.id"),
        sa.PrimaryKeyConstraint(pk, name=op.f(f"pk_{table}")),
    )


def upgrade() -> None:
    op.create_table(
        "unit_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("prepared_by", sa.String(length=64), nullable=True),
        sa.Column("report_filename", sa.String(length=255), nullable=True),
        sa.Column("report_docx", sa.LargeBinary(), nullable=True),
        sa.Column("circulated_at", _UTC, nullable=True),
        sa.Column("circulated_by", sa.String(length=64), nullable=True),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", _UTC, nullable=True),
        sa.Column("combined_tenths", sa.Integer(), nullable=True),
        sa.Column("updated_at", _UTC, nullable=False),
        _fk("unit_reviews", "cycle_id", "cycles.id"),
        _fk("unit_reviews", "org_id", "organisations.id", None),
        _fk("unit_reviews", "meeting_id", "meetings.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_reviews")),
        sa.UniqueConstraint("cycle_id", "org_id", "subject", name=op.f("uq_unit_reviews_cycle_id")),
    )
    with op.batch_alter_table("unit_reviews") as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_reviews_cycle_id"), ["cycle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_unit_reviews_org_id"), ["org_id"], unique=False)

    _review_child(
        "unit_report_pieces",
        sa.Column("section_key", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
    )
    op.create_index(
        "ix_unit_report_pieces_review", "unit_report_pieces", ["review_id", "section_key", "seq"]
    )
    _review_child(
        "unit_score_sheets",
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", _UTC, nullable=True),
        sa.Column("updated_at", _UTC, nullable=False),
        _fk("unit_score_sheets", "member_id", "members.id"),
    )
    op.create_index(
        "ix_unit_score_sheets_review_member", "unit_score_sheets", ["review_id", "member_id"]
    )
    op.create_table(
        "unit_score_marks",
        sa.Column("sheet_id", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.String(length=16), nullable=False),
        sa.Column("tenths", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=12), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        _fk("unit_score_marks", "sheet_id", "unit_score_sheets.id"),
        sa.PrimaryKeyConstraint("sheet_id", "criterion", name=op.f("pk_unit_score_marks")),
    )
    _review_child(
        "unit_score_adjustments",
        sa.Column("agreed", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("criterion", sa.String(length=16), nullable=False),
        sa.Column("shortfall_tenths", sa.Integer(), nullable=True),
        sa.Column("points_tenths", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("responsible", sa.String(length=255), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.Column("at", _UTC, nullable=False),
    )
    op.create_index("ix_unit_score_adjustments_review", "unit_score_adjustments", ["review_id"])
    _review_child(
        "unit_comments",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", _UTC, nullable=False),
        _fk("unit_comments", "member_id", "members.id"),
    )
    op.create_index("ix_unit_comments_review", "unit_comments", ["review_id"])
    _review_child(
        "unit_opinions",
        sa.Column("body", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.UniqueConstraint("review_id", "body", name=op.f("uq_unit_opinions_review_id")),
    )
    _review_child(
        "unit_ratings",
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("score_tenths", sa.Integer(), nullable=True),
        sa.Column("proposed_level", sa.String(length=8), nullable=True),
        sa.Column("proposed_at", _UTC, nullable=True),
        sa.Column("not_rated", sa.Boolean(), nullable=False),
        sa.Column("decided_level", sa.String(length=8), nullable=True),
        sa.Column("decided_at", _UTC, nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
    )
    op.create_index("ix_unit_ratings_review", "unit_ratings", ["review_id"])
    op.create_table(
        "unit_rating_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        _fk("unit_rating_changes", "rating_id", "unit_ratings.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_rating_changes")),
    )
    op.create_index(
        op.f("ix_unit_rating_changes_rating_id"), "unit_rating_changes", ["rating_id"]
    )
    op.create_table(
        "unit_appeals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("filed_by", sa.Integer(), nullable=False),
        sa.Column("deciding_org_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("filed_at", _UTC, nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", _UTC, nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        _fk("unit_appeals", "rating_id", "unit_ratings.id"),
        _fk("unit_appeals", "filed_by", "members.id"),
        _fk("unit_appeals", "deciding_org_id", "organisations.id", None),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_appeals")),
    )
    op.create_index(op.f("ix_unit_appeals_rating_id"), "unit_appeals", ["rating_id"])
    op.create_index(op.f("ix_unit_appeals_deciding_org_id"), "unit_appeals", ["deciding_org_id"])
    op.create_table(
        "plan_unit_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", _UTC, nullable=False),
        _fk("plan_unit_settings", "cycle_id", "cycles.id"),
        _fk("plan_unit_settings", "org_id", "organisations.id", None),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_unit_settings")),
        sa.UniqueConstraint("cycle_id", "org_id", "key", name=op.f("uq_plan_unit_settings_cycle_id")),
    )
    op.create_index(op.f("ix_plan_unit_settings_cycle_id"), "plan_unit_settings", ["cycle_id"])
    op.create_index(op.f("ix_plan_unit_settings_org_id"), "plan_unit_settings", ["org_id"])

    with op.batch_alter_table("meetings") as batch_op:
        batch_op.add_column(sa.Column("order_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("conclusions", sa.Text(), nullable=True))
    with op.batch_alter_table("ballot_rounds") as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=12), nullable=False, server_default="members")
        )
    _unit_candidates()
    _collective_prompts()


@contextmanager
def _ballot_counts_set_aside() -> Iterator[None]:
    """SQLite rebuilds ballot_candidates to change it, and dropping it with foreign keys on
    would delete its ballot_counts by cascade: the counts are set aside around the rebuild."""
    if op.get_bind().dialect.name != "sqlite":
        yield
        return
    op.execute("CREATE TABLE _counts_kept AS SELECT round_id, position, level, votes FROM ballot_counts")
    op.drop_table("ballot_counts")
    yield
    op.create_table(
        "ballot_counts",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id", "position"], ["ballot_candidates.round_id", "ballot_candidates.position"],
            name=op.f("fk_ballot_counts_round_id_ballot_candidates"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("round_id", "position", "level", name=op.f("pk_ballot_counts")),
    )
    op.execute(
        "INSERT INTO ballot_counts (round_id, position, level, votes) "
        "SELECT round_id, position, level, votes FROM _counts_kept"
    )
    op.execute("DROP TABLE _counts_kept")


def _unit_candidates() -> None:
    """ballot_candidates.candidate_id becomes nullable and review_id names a unit review."""
    with _ballot_counts_set_aside(), op.batch_alter_table("ballot_candidates") as batch_op:
        batch_op.alter_column("candidate_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("review_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_ballot_candidates_review_id_unit_reviews"), "unit_reviews",
            ["review_id"], ["id"], ondelete="CASCADE",
        )


def _collective_prompts() -> None:
    with op.batch_alter_table("review_prompts") as batch_op:
        batch_op.alter_column("member_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("subject_org_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("subject", sa.String(length=16), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_review_prompts_subject_org_id_organisations"), "organisations",
            ["subject_org_id"], ["id"], ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("review_prompts") as batch_op:
        batch_op.drop_constraint(op.f("fk_review_prompts_subject_org_id_organisations"), type_="foreignkey")
        batch_op.drop_column("subject")
        batch_op.drop_column("subject_org_id")
    # (candidate_id stays nullable: unit rounds' rows would not fit NOT NULL.)
    op.execute("DELETE FROM ballot_candidates WHERE review_id IS NOT NULL")
    with _ballot_counts_set_aside(), op.batch_alter_table("ballot_candidates") as batch_op:
        batch_op.drop_constraint(op.f("fk_ballot_candidates_review_id_unit_reviews"), type_="foreignkey")
        batch_op.drop_column("review_id")
    with op.batch_alter_table("ballot_rounds") as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("meetings") as batch_op:
        batch_op.drop_column("conclusions")
        batch_op.drop_column("order_reason")
    for table in (
        "plan_unit_settings", "unit_appeals", "unit_rating_changes", "unit_ratings",
        "unit_opinions", "unit_comments", "unit_score_adjustments", "unit_score_marks",
        "unit_score_sheets", "unit_report_pieces", "unit_reviews",
    ):
        op.drop_table(table)
