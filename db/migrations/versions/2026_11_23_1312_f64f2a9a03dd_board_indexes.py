"""board indexes

Indexes for the case board (core/board.py): each filter with the page order (received_at) behind it,
and prefix search on case number (upper), client last name (lower) and plate. On PostgreSQL the
prefix indexes use text_pattern_ops, so `LIKE 'prefix%'` can use them whatever the database collation;
SQLite searches them by range on the default BINARY collation.

Revision ID: f64f2a9a03dd
Revises: 59eb51d4d6ab
Create Date: 2026-11-23 13:12:24.557733+00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'f64f2a9a03dd'
down_revision = '59eb51d4d6ab'
branch_labels = None
depends_on = None


def _pattern_ops() -> str:
    return " text_pattern_ops" if op.get_bind().dialect.name == "postgresql" else ""


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_clerk_received', ['clerk_id', 'received_at'], unique=False)
        batch_op.create_index('ix_cases_damage_received', ['damage_type', 'received_at'], unique=False)
        batch_op.create_index('ix_cases_insurer_received', ['insurer_id', 'received_at'], unique=False)

    # expression indexes: written by hand (autogenerate cannot compare them on SQLite)
    ops = _pattern_ops()
    op.create_index('ix_cases_number_upper', 'cases', [sa.text(f'upper(number){ops}')], unique=False)
    op.create_index('ix_persons_last_name_lower', 'persons', [sa.text(f'lower(last_name){ops}')], unique=False)
    if ops:  # PostgreSQL: the duplicate check's plate index also serves plate-prefix LIKE
        op.drop_index('ix_cases_plate_incident', table_name='cases')
        op.create_index(
            'ix_cases_plate_incident', 'cases', ['plate', 'incident_date'], unique=False,
            postgresql_ops={'plate': 'text_pattern_ops'},
        )


def downgrade() -> None:
    if _pattern_ops():
        op.drop_index('ix_cases_plate_incident', table_name='cases')
        op.create_index('ix_cases_plate_incident', 'cases', ['plate', 'incident_date'], unique=False)
    op.drop_index('ix_persons_last_name_lower', table_name='persons')
    op.drop_index('ix_cases_number_upper', table_name='cases')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_insurer_received')
        batch_op.drop_index('ix_cases_damage_received')
        batch_op.drop_index('ix_cases_clerk_received')
