"""kpi_buckets per filter dimension (a filter on one dimension reads no facts rows), answered queries, status and
partner on the case facts, case_counts (the board's status counts); the store is rebuilt

Revision ID: d478c1b91afd
Revises: 59d46b26df8f
Create Date: 2026-12-04 17:45:04.900010+00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'd478c1b91afd'
down_revision = '59d46b26df8f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('kpi_buckets')
    _create(('metric', 'dim', 'value', 'week', 'bucket'), dims=True)
    with op.batch_alter_table('kpi_case_facts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queries_answered', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('status', sa.String(length=20), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('partner_id', sa.Integer(), nullable=False, server_default='0'))
    op.create_table('case_counts',
    sa.Column('dim', sa.String(length=12), nullable=False),
    sa.Column('value', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('dim', 'value', 'status', name=op.f('pk_case_counts'))
    )
    # Fill the whole store again from the cases (the bucket rows per dimension are new).
    from sqlalchemy.orm import Session

    from core.kpi_store import rebuild

    session = Session(bind=op.get_bind())
    rebuild(session)
    session.flush()


def downgrade() -> None:
    with op.batch_alter_table('kpi_case_facts', schema=None) as batch_op:
        batch_op.drop_column('queries_answered')
        batch_op.drop_column('status')
        batch_op.drop_column('partner_id')
    op.drop_table('case_counts')
    op.drop_table('kpi_buckets')
    _create(('metric', 'week', 'bucket'), dims=False)
    # The previous revision's kpi_buckets: the all-cases rows, counted from the facts rows.
    op.execute("INSERT INTO kpi_buckets (metric, week, bucket, n) SELECT 't', week, t_bucket, count(*) "
               "FROM kpi_case_facts WHERE cancelled = false AND t_bucket IS NOT NULL GROUP BY week, t_bucket")
    op.execute("INSERT INTO kpi_buckets (metric, week, bucket, n) SELECT 'q', week, bucket, count(*) "
               "FROM kpi_query_facts WHERE cancelled = false GROUP BY week, bucket")


def _create(key: tuple[str, ...], *, dims: bool) -> None:
    op.create_table('kpi_buckets',
    sa.Column('metric', sa.String(length=1), nullable=False),
    *([sa.Column('dim', sa.String(length=12), nullable=False),
       sa.Column('value', sa.String(length=20), nullable=False)] if dims else []),
    sa.Column('week', sa.Date(), nullable=False),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint(*key, name=op.f('pk_kpi_buckets'))
    )
