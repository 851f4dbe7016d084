"""received index in page order with status

`ix_cases_received` becomes (received_at, id, status): the board's page order without a sort of equal times,
and a period's tab counts (GROUP BY status) read from the index alone on PostgreSQL (measured in README, Performance).

Revision ID: 10e1f4744197
Revises: 5e1f0c2a9d47
Create Date: 2026-12-05 00:50:00.000000+00:00
"""
from alembic import op

revision = '10e1f4744197'
down_revision = '5e1f0c2a9d47'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_cases_received', table_name='cases')
    op.create_index('ix_cases_received', 'cases', ['received_at', 'id', 'status'])


def downgrade() -> None:
    op.drop_index('ix_cases_received', table_name='cases')
    op.create_index('ix_cases_received', 'cases', ['received_at'])
