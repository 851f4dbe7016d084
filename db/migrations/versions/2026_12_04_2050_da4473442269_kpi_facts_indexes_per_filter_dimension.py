"""kpi facts indexes per filter dimension

Revision ID: da4473442269
Revises: cf0570300514
Create Date: 2026-12-04 20:50:19.502876+00:00
"""
from alembic import op

revision = 'da4473442269'
down_revision = 'cf0570300514'
branch_labels = None
depends_on = None


# Written out here (not imported from db.models): a migration keeps doing what it did when it was written.
DIMENSIONS = ("damage_type", "insurer_id", "partner_kind", "region", "clerk_id")
TABLES = {"kpi_case_facts": ("t_bucket", "throughput_hours"), "kpi_query_facts": ("bucket", "hours")}


def _indexes():
    for table, (bucket, value) in TABLES.items():
        for dim in DIMENSIONS:
            columns = [dim, "week", bucket, value, "cancelled", *(d for d in DIMENSIONS if d != dim), "received_at"]
            yield table, f"ix_{table}_by_{dim}", columns


# The index a bucket's values are read by, widened to cover the filters (was: bucket, week, value).
BUCKET_INDEXES = {"kpi_case_facts": "ix_kpi_case_facts_throughput", "kpi_query_facts": "ix_kpi_query_facts_bucket"}


def upgrade() -> None:
    """Per filter dimension a scan index led by it (KPI page with two or more filters); the bucket indexes
    covering the filters."""
    for table, name, columns in _indexes():
        op.create_index(name, table, columns)
    for table, name in BUCKET_INDEXES.items():
        bucket, value = TABLES[table]
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [bucket, "week", value, "cancelled", *DIMENSIONS, "received_at"])
    for table in TABLES:  # planner statistics, so the most selective index is chosen (SQLite has none without)
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    for table, name in BUCKET_INDEXES.items():
        bucket, value = TABLES[table]
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [bucket, "week", value])
    for table, name, _ in _indexes():
        op.drop_index(name, table_name=table)
