"""ops_heartbeat

Revision ID: 3886d71400e0
Revises: d478c1b91afd
Create Date: 2026-12-04 18:07:41.834409+00:00
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = '3886d71400e0'
down_revision = 'd478c1b91afd'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('worker_heartbeats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.String(length=100), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_beat_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rounds', sa.Integer(), nullable=False),
    sa.Column('last_result', sa.String(length=20), nullable=False),
    sa.Column('last_duration_ms', sa.Integer(), nullable=False),
    sa.Column('last_counts', sa.JSON(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_heartbeats')),
    sa.UniqueConstraint('worker_id', name=op.f('uq_worker_heartbeats_worker_id'))
    )
    with op.batch_alter_table('worker_heartbeats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_heartbeats_last_beat_at'), ['last_beat_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('worker_heartbeats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worker_heartbeats_last_beat_at'))

    op.drop_table('worker_heartbeats')
