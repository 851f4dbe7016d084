"""The REST API for broker systems: API keys (stored as SHA-256 only), per-key request counters and the
idempotency keys of case submissions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow


class ApiKey(Base):
    """A key of a broker or admin login. The plaintext is shown once; only its SHA-256 is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # whose rights the key carries
    name: Mapped[str] = mapped_column(String(100))
    public_id: Mapped[str] = mapped_column(String(16), unique=True)  # part of the key, shown in lists
    key_hash: Mapped[str] = mapped_column(String(64))  # hex SHA-256 of the whole key
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RateCounter(Base):
    """Requests in the current fixed window of one bucket (e.g. `api_key:17`), shared by all processes."""

    __tablename__ = "rate_counters"

    bucket: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(default=0)


class ApiIdempotencyKey(Base):
    """A case submission sent with an `Idempotency-Key` header: the request's fingerprint and the answer given, so
    that the same request sent again (after a timeout, say) gets that answer instead of opening a second case. Only
    SHA-256 digests of the key and the body are kept (a broker may put anything into a key); core.idempotency drops
    a key's rows after IDEMPOTENCY_WINDOW."""

    __tablename__ = "api_idempotency_keys"

    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex SHA-256 of the header value
    request_hash: Mapped[str] = mapped_column(String(64))  # hex SHA-256 of the canonical JSON body
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    response: Mapped[dict] = mapped_column(JSON, default=dict)  # the answer's body (case number, status, …)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
