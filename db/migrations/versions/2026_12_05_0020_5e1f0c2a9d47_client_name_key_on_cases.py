"""client name key on cases

The board's client-name search reads `cases.client_name_key` (the client's last name, lower-cased by Python,
kept by core.client_names) through one index of status, name key, page order and the counted filters.

Revision ID: 5e1f0c2a9d47
Revises: 8b0c4b6b0a8b
Create Date: 2026-12-05 00:20:00.000000+00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '5e1f0c2a9d47'
down_revision = '8b0c4b6b0a8b'
branch_labels = None
depends_on = None

BATCH = 10_000


def _key(last_name: str) -> str:
    """core.client_names.name_key as of this revision."""
    return last_name.strip().lower()[:100]


def upgrade() -> None:
    op.add_column('cases', sa.Column('client_name_key', sa.String(length=100), server_default='', nullable=False))
    conn = op.get_bind()
    # set-based first (right for plain ASCII names on both databases), then the names SQL lowered otherwise
    conn.execute(sa.text(
        "UPDATE cases SET client_name_key = "
        "(SELECT substr(lower(trim(last_name)), 1, 100) FROM persons WHERE persons.id = cases.client_id)"))
    rows = conn.execute(sa.text(
        "SELECT cases.client_id, cases.client_name_key, persons.last_name FROM cases "
        "JOIN persons ON persons.id = cases.client_id").execution_options(yield_per=BATCH))
    wrong = [{"c": client_id, "k": _key(last)} for client_id, key, last in rows if key != _key(last)]
    for start in range(0, len(wrong), BATCH):
        conn.execute(sa.text("UPDATE cases SET client_name_key = :k WHERE client_id = :c"), wrong[start:start + BATCH])
    op.create_index(
        'ix_cases_status_client_name', 'cases',
        ['status', 'client_name_key', 'received_at', 'id', 'partner_id', 'insurer_id', 'damage_type', 'clerk_id'],
        postgresql_ops={'client_name_key': 'text_pattern_ops'},
    )
    conn.execute(sa.text("ANALYZE cases"))


def downgrade() -> None:
    op.drop_index('ix_cases_status_client_name', table_name='cases')
    # not a batch copy of the table: other tables' foreign keys point at cases (SQLite 3.35+ drops columns itself)
    op.execute("ALTER TABLE cases DROP COLUMN client_name_key")
