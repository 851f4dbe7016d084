"""retention: the purge run log (purge_runs)

Revision ID: e01cf2672e0a
Revises: 9246fc42f83c
Create Date: 2026-11-23 17:48:24.670588+00:00
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = 'e01cf2672e0a'
down_revision = '9246fc42f83c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('purge_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('worker_day', sa.String(length=10), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=200), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_purge_runs_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purge_runs')),
    sa.UniqueConstraint('worker_day', name=op.f('uq_purge_runs_worker_day'))
    )
    with op.batch_alter_table('purge_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purge_runs_day'), ['day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('purge_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purge_runs_day'))

    op.drop_table('purge_runs')
