"""cycles, meetings, self-reviews

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 05:48:11.830235
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pending_inputs',
    sa.Column('telegram_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('telegram_id', name=op.f('pk_pending_inputs'))
    )
    op.create_table('cycles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('rulebook', sa.String(length=16), nullable=False),
    sa.Column('overrides', sa.Text(), nullable=True),
    sa.Column('finish_by', sa.Date(), nullable=False),
    sa.Column('report_by', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_cycles_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycles')),
    sa.UniqueConstraint('org_id', 'year', name=op.f('uq_cycles_org_id'))
    )
    with op.batch_alter_table('cycles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cycles_org_id'), ['org_id'], unique=False)

    op.create_table('meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_meetings_cycle_id_cycles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_meetings_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings')),
    sa.UniqueConstraint('cycle_id', 'org_id', name=op.f('uq_meetings_cycle_id'))
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meetings_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meetings_org_id'), ['org_id'], unique=False)

    op.create_table('self_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cycle_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('form_code', sa.String(length=4), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('reached_preview', sa.Boolean(), nullable=False),
    sa.Column('general_score', sa.Integer(), nullable=True),
    sa.Column('task_score', sa.Integer(), nullable=True),
    sa.Column('proposed_level', sa.String(length=8), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('copy_flags', sa.Text(), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=True),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_self_reviews_cycle_id_cycles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_self_reviews_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_self_reviews')),
    sa.UniqueConstraint('cycle_id', 'member_id', name=op.f('uq_self_reviews_cycle_id'))
    )
    with op.batch_alter_table('self_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_self_reviews_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_self_reviews_member_id'), ['member_id'], unique=False)

    op.create_table('review_pieces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('section_key', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['self_reviews.id'], name=op.f('fk_review_pieces_review_id_self_reviews'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_pieces'))
    )
    with op.batch_alter_table('review_pieces', schema=None) as batch_op:
        batch_op.create_index('ix_review_pieces_review_section', ['review_id', 'section_key', 'seq'], unique=False)



def downgrade() -> None:
    op.drop_table('pending_inputs')
    with op.batch_alter_table('review_pieces', schema=None) as batch_op:
        batch_op.drop_index('ix_review_pieces_review_section')

    op.drop_table('review_pieces')
    with op.batch_alter_table('self_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_self_reviews_member_id'))
        batch_op.drop_index(batch_op.f('ix_self_reviews_cycle_id'))

    op.drop_table('self_reviews')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meetings_org_id'))
        batch_op.drop_index(batch_op.f('ix_meetings_cycle_id'))

    op.drop_table('meetings')
    with op.batch_alter_table('cycles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cycles_org_id'))

    op.drop_table('cycles')
