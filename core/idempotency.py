"""Idempotent case submissions over the REST API: a broker system that sends `POST /v1/cases` again with the same
`Idempotency-Key` header (after a timeout, a lost answer, a restart) gets the first answer again, not a second case.

- The key is the caller's own (per API key), 1–255 printable ASCII characters; only its SHA-256 is stored.
- The same key with another body is refused (422): the key was meant for a different submission.
- The key is reserved in the submission's own transaction, before the case is opened: a submission that fails
  leaves no reservation (sending it again is a new attempt), and of two identical requests at the same moment the
  second waits for the first (PostgreSQL: on the primary key; SQLite: writers take turns) and then replays it.
- A key counts for IDEMPOTENCY_WINDOW; its older rows are deleted when the same API key submits again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.i18n import t
from db.models import ApiIdempotencyKey

IDEMPOTENCY_WINDOW = timedelta(hours=24)
MAX_KEY_LENGTH = 255
HEADER = "Idempotency-Key"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def key_digest(key: str) -> str:
    """The stored form of a header value; a value that is no key is refused in German (field: the header)."""
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " < ch <= "~" for ch in key):
        raise ValidationError(t("api.idempotency_key_invalid", max=MAX_KEY_LENGTH), field=HEADER)
    return _digest(key)


def request_digest(payload: dict) -> str:
    """The fingerprint of a request body: the same fields and values give the same digest, in any order."""
    return _digest(json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str))


def reserve(session: Session, *, api_key_id: int, key: str, payload: dict, at: datetime) -> dict | None:
    """The stored answer of an earlier submission with this key and body, or None after reserving the key for this
    submission (flushed; the caller completes it with `remember` in the same transaction). A key used for another
    body within the window is refused."""
    digest = key_digest(key)
    session.execute(delete(ApiIdempotencyKey).where(ApiIdempotencyKey.api_key_id == api_key_id,
                                                    ApiIdempotencyKey.created_at < at - IDEMPOTENCY_WINDOW))
    row = session.get(ApiIdempotencyKey, (api_key_id, digest), populate_existing=True)
    if row is not None:
        if row.request_hash != request_digest(payload):
            raise ValidationError(t("api.idempotency_key_reused"), field=HEADER)
        return dict(row.response)
    session.add(ApiIdempotencyKey(api_key_id=api_key_id, key_hash=digest, request_hash=request_digest(payload),
                                  response={}, created_at=at))
    session.flush()  # a concurrent holder of the same key: wait here, then IntegrityError (the caller retries)
    return None


def remember(session: Session, *, api_key_id: int, key: str, case_id: int, response: dict) -> None:
    """Store the answer of the submission that reserved the key (same transaction as the case)."""
    row = session.get(ApiIdempotencyKey, (api_key_id, key_digest(key)))
    row.case_id, row.response = case_id, response
    session.flush()
