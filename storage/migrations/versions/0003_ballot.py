"""secret ballot: attendance, rounds, candidates, voters, counts, receipts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 07:30:00

Secrecy (R-B6): nothing written at cast time carries a voter, a timestamp or an
autoincrement; ballot_receipts is WITHOUT ROWID on SQLite so it has no insertion order.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('meeting_attendance',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('presence', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_attendance_meeting_id_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_meeting_attendance_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id', 'member_id', name=op.f('pk_meeting_attendance'))
    )
    op.create_table('ballot_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('counting_rule', sa.String(length=16), nullable=False),
    sa.Column('denominator_rule', sa.String(length=16), nullable=False),
    sa.Column('denominator', sa.Integer(), nullable=True),
    sa.Column('opened_by', sa.String(length=64), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('chat_id', sa.BigInteger(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('progress_shown', sa.String(length=24), nullable=True),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_ballot_rounds_meeting_id_meetings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot_rounds')),
    sa.UniqueConstraint('meeting_id', 'number', name=op.f('uq_ballot_rounds_meeting_id'))
    )
    with op.batch_alter_table('ballot_rounds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_rounds_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('ballot_candidates',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('adopted_level', sa.String(length=8), nullable=True),
    sa.Column('undecided', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['candidate_id'], ['members.id'], name=op.f('fk_ballot_candidates_candidate_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['ballot_rounds.id'], name=op.f('fk_ballot_candidates_round_id_ballot_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'position', name=op.f('pk_ballot_candidates'))
    )
    op.create_table('ballot_voters',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('has_voted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_ballot_voters_member_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['ballot_rounds.id'], name=op.f('fk_ballot_voters_round_id_ballot_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'member_id', name=op.f('pk_ballot_voters'))
    )
    op.create_table('ballot_counts',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('votes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['round_id', 'position'], ['ballot_candidates.round_id', 'ballot_candidates.position'], name=op.f('fk_ballot_counts_round_id_ballot_candidates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'position', 'level', name=op.f('pk_ballot_counts'))
    )
    op.create_table('ballot_receipts',
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['ballot_rounds.id'], name=op.f('fk_ballot_receipts_round_id_ballot_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('code_hash', name=op.f('pk_ballot_receipts')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('ballot_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballot_receipts_round_id'), ['round_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ballot_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_receipts_round_id'))

    op.drop_table('ballot_receipts')
    op.drop_table('ballot_counts')
    op.drop_table('ballot_voters')
    op.drop_table('ballot_candidates')
    with op.batch_alter_table('ballot_rounds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballot_rounds_meeting_id'))

    op.drop_table('ballot_rounds')
    op.drop_table('meeting_attendance')
