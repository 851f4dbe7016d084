"""inbound mail

Revision ID: 752f5247141f
Revises: 3886d71400e0
Create Date: 2026-12-04 20:30:50.514115+00:00

Inbound insurer mail (§4): fetched messages (unique message key: processed once) and their held attachments.
"""
import sqlalchemy as sa
from alembic import op

import db.base

revision = '752f5247141f'
down_revision = '3886d71400e0'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbound_mails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_key', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('sender', sa.String(length=254), nullable=False),
    sa.Column('sender_name', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('sent_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('received_at', db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('body_excerpt', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('filed', 'unassigned', 'assigned', 'dismissed', name='inboundmailstatus', native_enum=False, length=20), nullable=False),
    sa.Column('hold_reason', sa.Enum('no_match', 'several_matches', 'unknown_sender', 'too_large', name='holdreason', native_enum=False, length=30), nullable=True),
    sa.Column('matched_numbers', sa.JSON(), nullable=False),
    sa.Column('is_query', sa.Boolean(), nullable=False),
    sa.Column('rejected', sa.JSON(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.Column('handled_by_name', sa.String(length=200), nullable=False),
    sa.Column('handled_at', db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dismiss_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_inbound_mails_case_id_cases')),
    sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'], name=op.f('fk_inbound_mails_handled_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_mails')),
    sa.UniqueConstraint('message_key', name=op.f('uq_inbound_mails_message_key'))
    )
    with op.batch_alter_table('inbound_mails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_mails_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_inbound_mails_status_received', ['status', 'received_at'], unique=False)

    op.create_table('inbound_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mail_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('mime', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('stored_name', sa.String(length=100), nullable=True),
    sa.Column('document_version_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['document_version_id'], ['document_versions.id'], name=op.f('fk_inbound_attachments_document_version_id_document_versions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mail_id'], ['inbound_mails.id'], name=op.f('fk_inbound_attachments_mail_id_inbound_mails')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_attachments'))
    )
    with op.batch_alter_table('inbound_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_attachments_mail_id'), ['mail_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbound_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_attachments_mail_id'))

    op.drop_table('inbound_attachments')
    with op.batch_alter_table('inbound_mails', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_mails_status_received')
        batch_op.drop_index(batch_op.f('ix_inbound_mails_case_id'))

    op.drop_table('inbound_mails')
