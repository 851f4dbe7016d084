"""board status indexes in page order

Revision ID: 8b0c4b6b0a8b
Revises: da4473442269
Create Date: 2026-12-04 22:08:27.923671+00:00
"""
from alembic import op

revision = '8b0c4b6b0a8b'
down_revision = 'da4473442269'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The board's status tabs in page order (received_at, id), for all cases and per partner."""
    op.drop_index("ix_cases_status_received", table_name="cases")
    op.create_index("ix_cases_status_received", "cases", ["status", "received_at", "id"])
    op.create_index("ix_cases_partner_status_received", "cases", ["partner_id", "status", "received_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_partner_status_received", table_name="cases")
    op.drop_index("ix_cases_status_received", table_name="cases")
    op.create_index("ix_cases_status_received", "cases", ["status", "received_at"])
