"""The access-log viewer (§10, admins): who read, downloaded, exported or was refused what, when, from where.

Filtered by period (Berlin dates), user, action, object type and case number or object reference; newest first,
one page at a time with keyset paging on (at, id) — the log grows without bound, so nothing here loads the whole
table. A case number also finds the downloads of the case's documents (they are logged by document version id).
Reading the log and exporting it are themselves logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, select, tuple_, union_all
from sqlalchemy.orm import Session

from core.audit import log_access
from core.board import Cursor
from core.errors import ValidationError
from core.i18n import CATALOGS, DEFAULT_LANGUAGE, t
from core.permissions import Action, Actor, require
from core.timeline import role_label
from core.timeutil import berlin_midnight_utc, to_berlin
from db.models import AccessLog, Case, Document, DocumentVersion

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EXPORT_LIMIT = 100_000
EXPORT_BATCH = 1_000
LOG_OBJECT = "access_log"

#: Actions and object types the code writes (the viewer's choices; the filter takes any value).
ACTIONS = (
    "view", "download", "refused", "export", "upload", "share_create", "share_revoke", "share_download", "verify",
    "preview", "approve", "reject", "create", "edit", "reset", "deactivate", "reactivate", "update_terms",
    "resend", "test", "link_requested",
)
OBJECT_TYPES = (
    "case", "document", "share_link", "page", "board", "kpi", "chronicle", "declaration", "settlement",
    "client_link", "access_log", "event_chain", "outbox", "partner", "partner_application", "template", "webhook",
)


@dataclass(frozen=True)
class AccessLogFilter:
    """What the viewer shows; an empty field does not filter. `date_to` is inclusive (a Berlin date)."""

    date_from: date | None = None
    date_to: date | None = None
    username: str = ""
    action: str = ""
    object_type: str = ""
    object_ref: str = ""  # a case number (also finds its document downloads) or any other reference

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValidationError(t("alog.period_order"), field="date_to")
        for name in ("username", "action", "object_type", "object_ref"):
            object.__setattr__(self, name, str(getattr(self, name) or "").strip()[:64])

    def summary(self) -> str:
        """The filters for the access log's own entry."""
        parts = [
            f"from={self.date_from.isoformat()}" if self.date_from else "",
            f"to={self.date_to.isoformat()}" if self.date_to else "",
            f"user={self.username}" if self.username else "",
            f"action={self.action}" if self.action else "",
            f"type={self.object_type}" if self.object_type else "",
            f"ref={self.object_ref}" if self.object_ref else "",
        ]
        return "; ".join(p for p in parts if p) or "all"


@dataclass(frozen=True)
class AccessLogRow:
    id: int
    at: datetime
    username: str
    role: str
    action: str
    object_type: str
    object_ref: str
    ip: str
    detail: str


@dataclass(frozen=True)
class AccessLogPage:
    rows: list[AccessLogRow]
    next_cursor: Cursor | None


def format_seconds(value: datetime) -> str:
    """`23.11.2026 14:05:09` in Berlin time: the log is read to the second."""
    return to_berlin(value).strftime("%d.%m.%Y %H:%M:%S")


def role_text(code: str) -> str:
    """The German name of a logged role ("" when the entry has none)."""
    return role_label(code) if code else ""


def action_label(code: str) -> str:
    """The German name of a logged action (the code itself if the catalog has none)."""
    return CATALOGS[DEFAULT_LANGUAGE].get(f"alog.action_{code}", code)


def object_label(code: str) -> str:
    """The German name of a logged object type (the code itself if the catalog has none)."""
    return CATALOGS[DEFAULT_LANGUAGE].get(f"alog.object_{code}", code)


# --- services -------------------------------------------------------------------------------------


def list_access_log(
    session: Session, *, actor: Actor, filters: AccessLogFilter, after: Cursor | None = None,
    page_size: int = PAGE_SIZE,
) -> AccessLogPage:
    """One page of the log, newest first, starting after `after`; the reading is logged."""
    require(actor, Action.VIEW_AUDIT_LOG)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    rows = _fetch(session, filters, after=after, limit=page_size + 1)
    page = rows[:page_size]
    next_cursor = Cursor(page[-1].at, page[-1].id) if len(rows) > page_size else None
    log_access(session, actor=actor, action="view", object_type=LOG_OBJECT, detail=filters.summary())
    return AccessLogPage(page, next_cursor)


def export_access_log(
    session: Session, *, actor: Actor, filters: AccessLogFilter, limit: int = EXPORT_LIMIT,
) -> tuple[list[dict[str, str]], bool]:
    """The filtered log as rows with German headers (at most `limit`; True if cut off), logged as export."""
    require(actor, Action.VIEW_AUDIT_LOG)
    rows: list[dict[str, str]] = []
    after: Cursor | None = None
    while len(rows) <= limit:  # keyset batches: one batch of rows in memory per query
        want = min(EXPORT_BATCH, limit + 1 - len(rows))
        batch = _fetch(session, filters, after=after, limit=want)
        rows += [_export_row(r) for r in batch]
        if len(batch) < want:
            break
        after = Cursor(batch[-1].at, batch[-1].id)
    truncated = len(rows) > limit
    del rows[limit:]
    detail = f"{filters.summary()}; rows={len(rows)}" + ("; truncated" if truncated else "")
    log_access(session, actor=actor, action="export", object_type=LOG_OBJECT, detail=detail)
    return rows, truncated


# --- query ----------------------------------------------------------------------------------------


def _fetch(session: Session, filters: AccessLogFilter, *, after: Cursor | None, limit: int) -> list[AccessLogRow]:
    """The next `limit` rows in (at, id) descending order after the cursor.

    A reference filter is one query per way the reference can match (the reference itself; the case's document
    versions), each served in order by an index and merged, so no arm sorts more than it must.
    """
    where = _conditions(filters)
    if after is not None:
        where.append(tuple_(AccessLog.at, AccessLog.id) < tuple_(after.received_at, after.id))
    arms = _reference_arms(session, filters.object_ref)

    def keys(*extra: ColumnElement[bool]) -> Select:
        return (
            select(AccessLog.at, AccessLog.id).where(*where, *extra)
            .order_by(AccessLog.at.desc(), AccessLog.id.desc()).limit(limit)
        )

    if len(arms) <= 1:
        stmt = keys(*arms)
    else:
        merged = union_all(*(select(sub.c.at, sub.c.id) for sub in (keys(arm).subquery() for arm in arms))).subquery()
        stmt = select(merged.c.at, merged.c.id).order_by(merged.c.at.desc(), merged.c.id.desc()).limit(limit)
    ids = [r.id for r in session.execute(stmt)]
    if not ids:
        return []
    columns = (AccessLog.id, AccessLog.at, AccessLog.username, AccessLog.role, AccessLog.action,
               AccessLog.object_type, AccessLog.object_ref, AccessLog.ip, AccessLog.detail)
    found = {r.id: r for r in session.execute(select(*columns).where(AccessLog.id.in_(ids)))}
    return [_row(found[i]) for i in ids]


def _conditions(filters: AccessLogFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.date_from:
        where.append(AccessLog.at >= berlin_midnight_utc(filters.date_from))
    if filters.date_to:
        where.append(AccessLog.at < berlin_midnight_utc(filters.date_to + timedelta(days=1)))
    if filters.username:
        where.append(AccessLog.username == filters.username.lower())
    if filters.action:
        where.append(AccessLog.action == filters.action)
    if filters.object_type:
        where.append(AccessLog.object_type == filters.object_type)
    return where


def _reference_arms(session: Session, ref: str) -> list[ColumnElement[bool]]:
    """The ways a reference matches: itself (as typed and upper-case), and for a case number its document
    versions (downloads are logged by version id)."""
    if not ref:
        return []
    spellings = list(dict.fromkeys((ref, ref.upper())))
    arms: list[ColumnElement[bool]] = [AccessLog.object_ref.in_(spellings)]
    versions = session.scalars(
        select(DocumentVersion.id).join(Document, Document.id == DocumentVersion.document_id)
        .join(Case, Case.id == Document.case_id).where(Case.number == ref.upper())
    ).all()
    if versions:
        arms.append(and_(AccessLog.object_type == "document", AccessLog.object_ref.in_([str(v) for v in versions])))
    return arms


def _row(r) -> AccessLogRow:
    return AccessLogRow(*r)


def _export_row(r: AccessLogRow) -> dict[str, str]:
    return {
        t("alog.col_at"): format_seconds(r.at), t("alog.col_user"): r.username, t("alog.col_role"): role_text(r.role),
        t("alog.col_action"): action_label(r.action), t("alog.col_type"): object_label(r.object_type),
        t("alog.col_ref"): r.object_ref, t("alog.col_ip"): r.ip, t("alog.col_detail"): r.detail,
    }
