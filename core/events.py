"""The case event log: append-only, one row per thing that happened, hash-chained per case (§10)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.permissions import Actor
from core.timeutil import now
from db.models import Case, CaseEvent

GENESIS_HASH = "0" * 64


def event_hash(
    *, prev_hash: str, case_number: str, seq: int, at: datetime, actor_name: str, actor_role: str,
    action: str, details: dict,
) -> str:
    """SHA-256 over the previous hash and the event's canonical JSON."""
    body = json.dumps(
        {
            "case": case_number,
            "seq": seq,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor_name,
            "role": actor_role,
            "action": action,
            "details": details,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append_event(
    session: Session, *, case: Case, actor: Actor, action: str, details: dict | None = None,
    at: datetime | None = None,
) -> CaseEvent:
    """Append an event to the case's chain (flushes nothing; the caller's transaction commits it)."""
    details = dict(details or {})
    at = at or now()
    seq = case.event_count + 1
    prev = case.last_event_hash or GENESIS_HASH
    digest = event_hash(
        prev_hash=prev, case_number=case.number, seq=seq, at=at, actor_name=actor.display_name,
        actor_role=str(actor.role), action=action, details=details,
    )
    event = CaseEvent(
        case_id=case.id, seq=seq, at=at, actor_id=actor.user_id, actor_name=actor.display_name,
        actor_role=str(actor.role), action=action, details=details, prev_hash=prev, hash=digest,
    )
    session.add(event)
    case.event_count = seq
    case.last_event_hash = digest
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_broken_seq: int | None
    head: str


def verify_chain(session: Session, *, case: Case) -> ChainReport:
    """Recompute the case's chain; report the first event whose link or hash does not match."""
    prev = GENESIS_HASH
    count = 0
    rows = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))
    for expected_seq, ev in enumerate(rows, start=1):
        count += 1
        digest = event_hash(
            prev_hash=prev, case_number=case.number, seq=ev.seq, at=ev.at, actor_name=ev.actor_name,
            actor_role=ev.actor_role, action=ev.action, details=ev.details,
        )
        if ev.seq != expected_seq or ev.prev_hash != prev or ev.hash != digest:
            return ChainReport(ok=False, events=count, first_broken_seq=ev.seq, head=case.last_event_hash)
        prev = digest
    ok = prev == (case.last_event_hash or GENESIS_HASH)
    return ChainReport(ok=ok, events=count, first_broken_seq=None if ok else count, head=prev)
