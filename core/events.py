"""The case event log: append-only, one row per thing that happened, hash-chained per case (§10).

Each event's hash covers the previous hash and the event's canonical JSON, in which the details appear as one
digest: the SHA-256 over the hash of every detail field (`key` and value). Free texts some events copy (reasons,
task titles, query subjects, uploaded file names: `PERSONAL_DETAIL_KEYS`) can so be erased later without
breaking the chain: `redact_events` replaces such a value by `REDACTED` and keeps only its field hash
(`redacted_digests`, never the text), and `verify_chain` takes a redacted field's hash from there and recomputes
every other field's, so tampering with anything not erased still shows. A "redacted" field that does not hold
the marker counts as tampering too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.permissions import Actor
from core.timeutil import now
from db.models import Case, CaseEvent

GENESIS_HASH = "0" * 64
#: What an erased free text reads as in the event log.
REDACTED = "[gelöscht]"
#: Detail fields that can hold personal free text (status, decline, override and hold reasons, task titles,
#: insurer-query subjects, uploaded file names); erased with the person's data.
PERSONAL_DETAIL_KEYS = frozenset({"reason", "name", "task", "subject"})


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def field_hash(key: str, value: object) -> str:
    """The hash of one detail field (key and value)."""
    return hashlib.sha256(_canonical([key, value]).encode()).hexdigest()


def details_digest(details: dict, redacted: dict[str, str] | None = None) -> str:
    """The digest the chain covers: over every field's hash, a redacted field's taken from `redacted`."""
    if not redacted:
        return _plain_digest(_canonical(details))
    leaves = {k: redacted[k] if k in redacted else field_hash(k, v) for k, v in details.items()}
    return hashlib.sha256(_canonical(leaves).encode()).hexdigest()


@lru_cache(maxsize=65_536)
def _plain_digest(canonical: str) -> str:
    """details_digest of unredacted details given as canonical JSON (most details repeat: status pairs, kinds;
    a JSON round trip leaves a field's canonical form, and so its hash, unchanged)."""
    leaves = {k: field_hash(k, v) for k, v in json.loads(canonical).items()}
    return hashlib.sha256(_canonical(leaves).encode()).hexdigest()


def event_hash(
    *, prev_hash: str, case_number: str, seq: int, at: datetime, actor_name: str, actor_role: str,
    action: str, details: dict | None = None, digest: str | None = None,
) -> str:
    """SHA-256 over the previous hash and the event's canonical JSON (details as `details_digest`, or `digest`)."""
    body = _canonical({
        "case": case_number,
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor_name,
        "role": actor_role,
        "action": action,
        "details_sha256": digest if digest is not None else details_digest(details or {}),
    })
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


def personal_fields(details: dict) -> list[str]:
    """The fields of these event details that still hold personal free text."""
    return [k for k in sorted(PERSONAL_DETAIL_KEYS)
            if isinstance(details.get(k), str) and details[k] and details[k] != REDACTED]


def redactable_events(session: Session, *, case_ids: Iterable[int]) -> int:
    """How many events of these cases still hold personal free text (what `redact_events` would change)."""
    ids = list(case_ids)
    return sum(1 for details in session.scalars(select(CaseEvent.details).where(CaseEvent.case_id.in_(ids)))
               if personal_fields(details or {})) if ids else 0


def redact_events(session: Session, *, case_ids: Iterable[int], at: datetime | None = None) -> int:
    """Erase the personal free texts in these cases' events, keeping the chain verifiable; returns how many
    events changed. The only sanctioned change of an event (a bulk UPDATE: the ORM refuses any other)."""
    ids = list(case_ids)
    if not ids:
        return 0
    at = at or now()
    rows, touched = [], []
    for event in session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(ids)).order_by(CaseEvent.id)):
        details = dict(event.details or {})
        keys = personal_fields(details)
        if not keys:
            continue
        digests = dict(event.redacted_digests or {})
        for key in keys:
            digests[key] = field_hash(key, details[key])
            details[key] = REDACTED
        rows.append({"id": event.id, "details": details, "redacted_digests": digests, "redacted_at": at})
        touched.append(event)
    if rows:
        session.flush()  # pending events first, so the UPDATE sees them
        session.execute(update(CaseEvent), rows)
        for event in touched:
            session.expire(event)
    return len(rows)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_broken_seq: int | None
    head: str


def _digest_of(ev: CaseEvent) -> str | None:
    """The event's details digest; None if a field marked as redacted holds anything but the marker."""
    redacted = ev.redacted_digests or {}
    details = ev.details or {}
    if any(details.get(k) != REDACTED for k in redacted):
        return None
    return details_digest(details, redacted)


def verify_chain(session: Session, *, case: Case) -> ChainReport:
    """Recompute the case's chain; report the first event whose link or hash does not match."""
    prev = GENESIS_HASH
    count = 0
    rows = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))
    for expected_seq, ev in enumerate(rows, start=1):
        count += 1
        details = _digest_of(ev)
        digest = None if details is None else event_hash(
            prev_hash=prev, case_number=case.number, seq=ev.seq, at=ev.at, actor_name=ev.actor_name,
            actor_role=ev.actor_role, action=ev.action, digest=details,
        )
        if ev.seq != expected_seq or ev.prev_hash != prev or digest is None or ev.hash != digest:
            return ChainReport(ok=False, events=count, first_broken_seq=ev.seq, head=case.last_event_hash)
        prev = digest
    ok = prev == (case.last_event_hash or GENESIS_HASH)
    return ChainReport(ok=ok, events=count, first_broken_seq=None if ok else count, head=prev)
