"""subject_rights: redactable case events (the chain hashes a digest of the details)

Adds `case_events.redacted_at` and `case_events.redacted_digests` and re-hashes every existing chain from the old
formula (details inline in the hashed JSON) to the new one (details as a digest of per-field hashes, see
core.events), in order per case. A chain is re-hashed only as far as it verifies under the old formula: from a
broken link on, its rows stay as they were, so tampering done before the migration still shows afterwards.
The formulas are copied here on purpose (a migration must not change when core.events does).

Revision ID: 0e837755bde1
Revises: db2b9c2e2bb0
Create Date: 2026-12-04 17:27:13.439440+00:00
"""
import hashlib
import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op

import db.base

revision = '0e837755bde1'
down_revision = 'db2b9c2e2bb0'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
CASES_PER_BATCH = 1000

_cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("number", sa.String),
                  sa.column("last_event_hash", sa.String))
_events = sa.table(
    "case_events", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer), sa.column("seq", sa.Integer),
    sa.column("at", db.base.UTCDateTime(timezone=True)), sa.column("actor_name", sa.String),
    sa.column("actor_role", sa.String), sa.column("action", sa.String), sa.column("details", sa.JSON),
    sa.column("prev_hash", sa.String), sa.column("hash", sa.String), sa.column("redacted_digests", sa.JSON),
)


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _old_hash(prev: str, number: str, ev) -> str:
    body = _canonical({"case": number, "seq": ev.seq, "at": ev.at.astimezone(UTC).isoformat(timespec="microseconds"),
                       "actor": ev.actor_name, "role": ev.actor_role, "action": ev.action, "details": ev.details or {}})
    return hashlib.sha256((prev + body).encode()).hexdigest()


def _new_hash(prev: str, number: str, ev) -> str:
    redacted = ev.redacted_digests or {}  # none before this migration; kept by a downgrade's check
    leaves = {k: redacted[k] if k in redacted else hashlib.sha256(_canonical([k, v]).encode()).hexdigest()
              for k, v in (ev.details or {}).items()}
    digest = hashlib.sha256(_canonical(leaves).encode()).hexdigest()
    body = _canonical({"case": number, "seq": ev.seq, "at": ev.at.astimezone(UTC).isoformat(timespec="microseconds"),
                       "actor": ev.actor_name, "role": ev.actor_role, "action": ev.action, "details_sha256": digest})
    return hashlib.sha256((prev + body).encode()).hexdigest()


def _rehash(conn, verify, rehash) -> None:
    """Re-hash every chain that verifies under `verify` with `rehash` (as far as it verifies)."""
    last_id = 0
    while True:
        cases = conn.execute(sa.select(_cases.c.id, _cases.c.number, _cases.c.last_event_hash)
                             .where(_cases.c.id > last_id).order_by(_cases.c.id).limit(CASES_PER_BATCH)).all()
        if not cases:
            return
        last_id = cases[-1].id
        events: dict[int, list] = {}
        for ev in conn.execute(sa.select(_events).where(_events.c.case_id.between(cases[0].id, last_id))
                               .order_by(_events.c.case_id, _events.c.seq)):
            events.setdefault(ev.case_id, []).append(ev)
        rows, heads = [], []
        for case in cases:
            old_prev = new_prev = GENESIS
            intact = True
            for expected, ev in enumerate(events.get(case.id, []), start=1):
                if ev.seq != expected or ev.prev_hash != old_prev or ev.hash != verify(old_prev, case.number, ev):
                    intact = False
                    break
                new = rehash(new_prev, case.number, ev)
                rows.append({"event_id": ev.id, "new_prev": new_prev, "new_hash": new})
                old_prev, new_prev = ev.hash, new
            if intact and old_prev == (case.last_event_hash or GENESIS) and case.last_event_hash:
                heads.append({"case_id": case.id, "new_head": new_prev})
        if rows:
            conn.execute(_events.update().where(_events.c.id == sa.bindparam("event_id"))
                         .values(prev_hash=sa.bindparam("new_prev"), hash=sa.bindparam("new_hash")), rows)
        if heads:
            conn.execute(_cases.update().where(_cases.c.id == sa.bindparam("case_id"))
                         .values(last_event_hash=sa.bindparam("new_head")), heads)


def upgrade() -> None:
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('redacted_at', db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('redacted_digests', sa.JSON(), nullable=True))
    _rehash(op.get_bind(), _old_hash, _new_hash)


def downgrade() -> None:
    # Redacted events keep their marker: the old formula then covers the redacted text.
    _rehash(op.get_bind(), _new_hash, _old_hash)
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_column('redacted_digests')
        batch_op.drop_column('redacted_at')

