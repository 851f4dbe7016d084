"""document_search

Revision ID: 59d46b26df8f
Revises: 69d1b240f855
Create Date: 2026-12-04 17:29:16.227007+00:00

Full-text search over document texts (§9) and the extraction status of each version (text layer, OCR pending,
OCR, OCR unavailable, failed). PostgreSQL: a GIN index on to_tsvector('german', text). SQLite: the FTS5 table
`document_search` with `document_versions` as its external content, kept current by triggers. Existing rows are
indexed here; versions without text that OCR can read are queued for the worker (`pending`).
"""
import sqlalchemy as sa
from alembic import op

import db.base
from db.search_index import (
    FTS_TABLE,
    PG_CREATE,
    PG_INDEX,
    SQLITE_CREATE,
    SQLITE_REBUILD,
    SQLITE_TRIGGERS,
)

revision = '59d46b26df8f'
down_revision = '69d1b240f855'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extraction_status', sa.Enum(
            'text_layer', 'pending', 'ocr', 'ocr_unavailable', 'failed', name='extractionstatus', native_enum=False,
            length=20), server_default='text_layer', nullable=False))
        batch_op.add_column(sa.Column('extraction_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('extraction_next_at', db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_document_versions_extraction_status'), ['extraction_status'],
                              unique=False)
    # rows without text: photos and scans go to the OCR queue, HEIC cannot be read
    op.execute("UPDATE document_versions SET extraction_status = 'pending' WHERE text = '' "
               "AND mime IN ('application/pdf', 'image/png', 'image/jpeg')")
    op.execute("UPDATE document_versions SET extraction_status = 'failed' WHERE text = '' "
               "AND mime NOT IN ('application/pdf', 'image/png', 'image/jpeg')")
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_CREATE)
    else:
        op.execute(SQLITE_CREATE)
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
        op.execute(SQLITE_REBUILD)  # index the rows that exist


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'DROP INDEX IF EXISTS {PG_INDEX}')
    else:
        for suffix in ('ai', 'ad', 'au'):
            op.execute(f'DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}')
        op.execute(f'DROP TABLE IF EXISTS {FTS_TABLE}')
    with op.batch_alter_table('document_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_versions_extraction_status'))
        batch_op.drop_column('extraction_next_at')
        batch_op.drop_column('extraction_attempts')
        batch_op.drop_column('extraction_status')
