"""api idempotency keys

A case submission over the REST API with an `Idempotency-Key` header: the digests of key and body and the answer
given, so that the same request sent again gets that answer instead of a second case (core.idempotency).

Revision ID: 7abc30ebe915
Revises: 10e1f4744197
Create Date: 2026-12-05 22:24:49.761264+00:00
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = '7abc30ebe915'
down_revision = '10e1f4744197'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_idempotency_keys',
    sa.Column('api_key_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_api_idempotency_keys_api_key_id_api_keys')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_api_idempotency_keys_case_id_cases')),
    sa.PrimaryKeyConstraint('api_key_id', 'key_hash', name=op.f('pk_api_idempotency_keys'))
    )


def downgrade() -> None:
    op.drop_table('api_idempotency_keys')
