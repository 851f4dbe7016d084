"""The case board (Fallübersicht): filtered, keyset-paged case lists, status counts and the export.

Every query is written so that an index serves both the filter and the page order
(received_at DESC, id DESC): keyset pagination instead of OFFSET (SQLAlchemy still writes `OFFSET 0` after
SQLite's LIMIT; it skips nothing), no sort of the whole table, at most one page of rows loaded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    func,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session

from core.audit import log_access
from core.board_search import (
    capped_counts,
    keys_query,
    search_for,
    sorted_hits,
    starts_with,
)
from core.dashboard import CaseRow
from core.enums import CaseStatus, DamageType, PartnerKind, Role
from core.errors import PermissionDenied
from core.i18n import label, t
from core.lifecycle import (
    CLAIM_LETTER_DUE_AFTER,
    CLAIM_LETTER_FLAG_AFTER,
    claim_letter_deadline,
)
from core.money import format_eur
from core.permissions import GRANTS, Action, Actor, require
from core.timeutil import berlin_midnight_utc, format_dt, now
from db.models import Case, CaseCount, Insurer, Partner, Person, User

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EXPORT_LIMIT = 100_000
EXPORT_BATCH = 1_000
MAX_SEARCH_LENGTH = 100

DeadlineFilter = Literal["flagged", "overdue"]
#: A deadline filter keeps the cases still waiting for a claim letter that are at least this old.
DEADLINE_AGE: dict[str, timedelta] = {"flagged": CLAIM_LETTER_FLAG_AFTER, "overdue": CLAIM_LETTER_DUE_AFTER}
WAITING_STATUSES = (CaseStatus.RECEIVED, CaseStatus.REVIEW)
#: Who can be a case's clerk: every role that works on cases.
CLERK_ROLES = tuple(role for role in Role if Action.EDIT_CASE in GRANTS[role])

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class BoardFilter:
    """What the board shows; an empty field does not filter.

    `deadline`: "flagged" keeps cases waiting for their claim letter (status received or review, no letter)
    for 36 h or more (so overdue ones too), "overdue" those waiting for 48 h or more.
    `text`: prefix of the case number (the whole number if the text has no digit: "SP" is not every case), of
    the plate (from two characters on) or of the client's last name (case-insensitive).
    `received_from`/`received_to`: Berlin dates, received in [from, to) (`to` exclusive, as the KPIs count).
    `region`: first digit of the case's postal code (the KPIs' PLZ-Bereich); `partner_kind`: the Betriebsart
    the case needs. These two have no index of their own: the board reaches them with a period (the KPI
    click-through always sends one), whose range the received_at indexes serve in page order.
    """

    statuses: tuple[CaseStatus, ...] = ()
    damage_type: DamageType | None = None
    insurer_id: int | None = None
    partner_id: int | None = None
    clerk_id: int | None = None
    deadline: DeadlineFilter | None = None
    text: str = ""
    received_from: date | None = None
    received_to: date | None = None
    region: str | None = None
    partner_kind: PartnerKind | None = None

    def __post_init__(self) -> None:
        if self.deadline is not None and self.deadline not in DEADLINE_AGE:
            raise ValueError(f"unknown deadline filter {self.deadline!r}")
        if self.region is not None and not (len(self.region) == 1 and self.region in "0123456789"):
            raise ValueError(f"region must be one digit, not {self.region!r}")
        if self.received_from and self.received_to and self.received_to <= self.received_from:
            raise ValueError("received_to must lie after received_from")
        if self.partner_kind is not None:
            object.__setattr__(self, "partner_kind", PartnerKind(self.partner_kind))
        object.__setattr__(self, "statuses", tuple(CaseStatus(s) for s in self.statuses))
        if self.damage_type is not None:
            object.__setattr__(self, "damage_type", DamageType(self.damage_type))
        object.__setattr__(self, "text", " ".join(self.text.split())[:MAX_SEARCH_LENGTH])

    def summary(self) -> str:
        """The filters for the access log: codes and ids only, never the search text (it may be a name)."""
        parts = [
            f"status={','.join(self.statuses)}" if self.statuses else "",
            f"damage_type={self.damage_type}" if self.damage_type else "",
            f"insurer_id={self.insurer_id}" if self.insurer_id is not None else "",
            f"partner_id={self.partner_id}" if self.partner_id is not None else "",
            f"clerk_id={self.clerk_id}" if self.clerk_id is not None else "",
            f"deadline={self.deadline}" if self.deadline else "",
            f"from={self.received_from.isoformat()}" if self.received_from else "",
            f"to={self.received_to.isoformat()}" if self.received_to else "",
            f"region={self.region}" if self.region is not None else "",
            f"partner_kind={self.partner_kind}" if self.partner_kind else "",
            "text=yes" if self.text else "",
        ]
        return "; ".join(p for p in parts if p) or "all"


@dataclass(frozen=True)
class Cursor:
    """Where a board page ends: its last row's (received_at, id). The next page starts after it."""

    received_at: datetime
    id: int

    def to_token(self) -> str:
        """A short string for session state, e.g. `65f1c2a9b3c00.2a`."""
        return f"{(self.received_at - _EPOCH) // _MICROSECOND:x}.{self.id:x}"

    @classmethod
    def from_token(cls, token: str) -> Cursor:
        """The cursor of `to_token`; ValueError for anything else."""
        try:
            micros, ident = token.split(".")
            return cls(_EPOCH + int(micros, 16) * _MICROSECOND, int(ident, 16))
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"invalid board cursor {token!r}") from exc


@dataclass(frozen=True)
class BoardRow(CaseRow):
    partner: str = ""
    clerk: str = ""


@dataclass(frozen=True)
class BoardPage:
    rows: list[BoardRow]
    next_cursor: Cursor | None


@dataclass(frozen=True)
class BoardChoices:
    """(id, name) pairs for the filter widgets, sorted by name."""

    insurers: list[tuple[int, str]]
    partners: list[tuple[int, str]]
    clerks: list[tuple[int, str]]


# --- services -------------------------------------------------------------------------------------


def list_board(
    session: Session, *, actor: Actor, filters: BoardFilter, after: Cursor | None = None, page_size: int = PAGE_SIZE
) -> BoardPage:
    """One page of the board, newest first, starting after `after` (keyset pagination, never OFFSET)."""
    require(actor, Action.LIST_CASES)
    return _page(session, filters, after=after, page_size=page_size)


def list_orders(
    session: Session, *, actor: Actor, filters: BoardFilter, after: Cursor | None = None, page_size: int = PAGE_SIZE
) -> BoardPage:
    """A partner's orders (its own business's only, whatever the filter says), with the board's paging."""
    return _page(session, own_orders(actor, filters), after=after, page_size=page_size)


def order_status_counts(session: Session, *, actor: Actor, filters: BoardFilter) -> StatusCounts:
    """A partner's orders per status for the filters (its own business's only)."""
    return _counts(session, own_orders(actor, filters))


def own_orders(actor: Actor, filters: BoardFilter) -> BoardFilter:
    """The filters narrowed to the actor's own business (refused for anyone but a linked partner)."""
    require(actor, Action.VIEW_OWN_ORDERS)
    if actor.partner_id is None:
        raise PermissionDenied(t("home.not_linked"))
    return replace(filters, partner_id=actor.partner_id, insurer_id=None, clerk_id=None)


def log_list_view(session: Session, *, actor: Actor, filters: BoardFilter, page: BoardPage, what: str) -> None:
    """Record that a list showing clients' names was displayed (§10): one access-log row per page shown ("board"
    or "orders"), with the filters as codes (never the search text) and the case numbers shown, as many as fit."""
    numbers = [r.number for r in page.rows]
    detail = f"{filters.summary()}; {len(numbers)}: "
    shown = ""
    for number in numbers:
        more = f"{', ' if shown else ''}{number}"
        if len(detail) + len(shown) + len(more) > 490:
            shown += ", …"
            break
        shown += more
    log_access(session, actor=actor, action="list", object_type=what, object_ref=numbers[0] if numbers else "",
               detail=detail + shown)


def _page(session: Session, filters: BoardFilter, *, after: Cursor | None, page_size: int) -> BoardPage:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    at = now()
    keys = _page_keys(session, filters, at, after=after, limit=page_size + 1)
    page = keys[:page_size]
    next_cursor = Cursor(*page[-1]) if len(keys) > page_size else None
    return BoardPage([_board_row(r, at) for r in _fetch_rows(session, page)], next_cursor)


class StatusCounts(dict):
    """Cases per status (every status, lifecycle order). A search counts each status up to COUNT_CAP only:
    `capped` holds the statuses with more, whose number is then COUNT_CAP ("über 1.000")."""

    def __init__(self, counts: Mapping[CaseStatus, int], capped: frozenset[CaseStatus] = frozenset()) -> None:
        super().__init__(counts)
        self.capped = capped

    def total(self, statuses: tuple[CaseStatus, ...] = ()) -> tuple[int, bool]:
        """The cases of these statuses (all for none), and whether that is a lower bound (a capped status)."""
        chosen = [s for s in self if not statuses or s in statuses]
        return sum(self[s] for s in chosen), any(s in self.capped for s in chosen)


def status_counts(session: Session, *, actor: Actor, filters: BoardFilter) -> StatusCounts:
    """Cases per status (every status, lifecycle order) for the filters, ignoring their status filter."""
    require(actor, Action.LIST_CASES)
    return _counts(session, filters)


def _counts(session: Session, filters: BoardFilter) -> StatusCounts:
    stored = _stored_counts(session, filters)
    if stored is not None:
        return StatusCounts(stored)
    where = _conditions(session, filters, now())
    statuses = None if filters.deadline is None else WAITING_STATUSES
    if statuses is not None:
        where.append(Case.status.in_(statuses))
    search = search_for(session, filters.text, statuses=statuses, walk=False)
    if search.arms:  # disjoint arms: their counts add up
        counts, capped = capped_counts(session, where, search, statuses or tuple(CaseStatus))
    else:
        stmt = select(Case.status, func.count()).where(*where, *search.walk).group_by(Case.status)
        counts, capped = Counter(dict(session.execute(stmt).all())), set()
    return StatusCounts({status: counts.get(status, 0) for status in CaseStatus},
                        frozenset(status for status in CaseStatus if status in capped))


def _stored_counts(session: Session, filters: BoardFilter) -> dict[CaseStatus, int] | None:
    """The counts from core.kpi_store's case_counts (a few rows) when the filters are at most one of damage
    type, insurer, partner and clerk (the status filter does not narrow the counts); None otherwise."""
    dims = {"damage_type": filters.damage_type, "insurer_id": filters.insurer_id, "partner_id": filters.partner_id,
            "clerk_id": filters.clerk_id}
    given = {d: str(v) for d, v in dims.items() if v is not None}
    others = (filters.deadline, filters.text, filters.received_from, filters.received_to, filters.region,
              filters.partner_kind)
    if len(given) > 1 or any(o for o in others):
        return None
    dim, value = next(iter(given.items()), ("", ""))
    rows = session.execute(select(CaseCount.status, CaseCount.n).where(CaseCount.dim == dim, CaseCount.value == value))
    counts = dict(rows.all())
    return {status: counts.get(str(status), 0) for status in CaseStatus}


def board_choices(session: Session, *, actor: Actor) -> BoardChoices:
    """The insurers, partner businesses and clerks the board can be filtered by."""
    require(actor, Action.LIST_CASES)
    insurers = session.execute(select(Insurer.id, Insurer.name).order_by(Insurer.name, Insurer.id)).all()
    partners = session.execute(select(Partner.id, Partner.name).order_by(Partner.name, Partner.id)).all()
    clerks = session.execute(
        select(User.id, User.display_name).where(User.role.in_(CLERK_ROLES)).order_by(User.display_name, User.id)
    ).all()
    return BoardChoices([tuple(r) for r in insurers], [tuple(r) for r in partners], [tuple(r) for r in clerks])


def export_board(
    session: Session, *, actor: Actor, filters: BoardFilter, limit: int = EXPORT_LIMIT
) -> tuple[list[dict[str, str]], bool]:
    """The filtered board as rows with German headers (at most `limit`; True if cut off), logged as export."""
    require(actor, Action.LIST_CASES)
    require(actor, Action.EXPORT_DATA)
    at = now()
    rows: list[dict[str, str]] = []
    after: Cursor | None = None
    while len(rows) <= limit:  # keyset batches: never more than one batch of rows per query
        want = min(EXPORT_BATCH, limit + 1 - len(rows))
        keys = _page_keys(session, filters, at, after=after, limit=want)
        rows += [_export_row(r, at) for r in _fetch_rows(session, keys, export=True)]
        if len(keys) < want:
            break
        after = Cursor(*keys[-1])
    truncated = len(rows) > limit
    del rows[limit:]
    detail = f"{filters.summary()}; rows={len(rows)}" + ("; truncated" if truncated else "")
    log_access(session, actor=actor, action="export", object_type="board", detail=detail)
    return rows, truncated


# --- query building -------------------------------------------------------------------------------


def _page_keys(
    session: Session, filters: BoardFilter, at: datetime, *, after: Cursor | None, limit: int
) -> list[tuple[datetime, int]]:
    """(received_at, id) of the next `limit` cases in board order.

    Only these two columns, so an index on (filter column, received_at) answers it in order and stops after
    `limit` entries. Several statuses are one such query per status, merged (an IN list would make the
    database sort every match). A search reads its hits from their own indexes (core.board_search).
    """
    statuses = _status_set(filters)
    if statuses == ():
        return []
    where = _conditions(session, filters, at)
    if after is not None:
        # a row value: SQLite and PostgreSQL both read it as a range on the received_at index
        where.append(tuple_(Case.received_at, Case.id) < tuple_(after.received_at, after.id))
    status = [] if statuses is None else [
        Case.status.in_(statuses) if len(statuses) > 1 else Case.status == statuses[0]
    ]
    search = search_for(session, filters.text, statuses=statuses, walk=True)
    walk = search.walk
    if search.arms:
        hits = sorted_hits(session, search.pin([*where, *status]), search, limit)
        if hits is not None:
            return hits
        walk = search.dense
    if statuses is None or len(statuses) == 1:
        stmt = keys_query([*where, *status, *walk], limit)
    else:
        stmt = _merged([keys_query([*where, Case.status == s, *walk], limit) for s in statuses], limit)
    return [(r.received_at, r.id) for r in session.execute(stmt)]


def _merged(parts: list[Select], limit: int) -> Select:
    """The first `limit` keys of several disjoint key queries, in board order."""
    if len(parts) == 1:
        return parts[0]
    subs = [part.subquery() for part in parts]
    merged = union_all(*(select(sub.c.received_at, sub.c.id) for sub in subs)).subquery()
    order = (merged.c.received_at.desc(), merged.c.id.desc())
    return select(merged.c.received_at, merged.c.id).order_by(*order).limit(limit)


def _fetch_rows(session: Session, keys: list[tuple[datetime, int]], *, export: bool = False) -> list:
    """The display columns of these cases, in board order (looked up by primary key)."""
    if not keys:
        return []
    columns = [
        Case.id, Case.number, Case.status, Case.damage_type, Case.received_at, Case.claim_letter_sent_at,
        Case.plate, Person.first_name, Person.last_name, Person.city, Insurer.name.label("insurer"),
        Partner.name.label("partner"), User.display_name.label("clerk"),
    ]
    if export:
        columns += [Case.amount_claimed_cents, Case.amount_paid_cents, Case.paid_at, Case.closed_at]
    stmt = (
        select(*columns)
        .join(Person, Case.client_id == Person.id)
        .join(Insurer, Case.insurer_id == Insurer.id)
        .outerjoin(Partner, Case.partner_id == Partner.id)
        .outerjoin(User, Case.clerk_id == User.id)
        .where(Case.id.in_([ident for _, ident in keys]))
    )
    return sorted(session.execute(stmt).all(), key=lambda r: (r.received_at, r.id), reverse=True)


def _status_set(filters: BoardFilter) -> tuple[CaseStatus, ...] | None:
    """The statuses the board may show (None: any); the deadline filters only look at waiting cases."""
    if filters.deadline is None:
        return filters.statuses or None
    if not filters.statuses:
        return WAITING_STATUSES
    return tuple(s for s in filters.statuses if s in WAITING_STATUSES)


def _conditions(session: Session, filters: BoardFilter, at: datetime) -> list[ColumnElement[bool]]:
    """Every filter except the status and the search text."""
    where: list[ColumnElement[bool]] = []
    if filters.damage_type is not None:
        where.append(Case.damage_type == filters.damage_type)
    if filters.insurer_id is not None:
        where.append(Case.insurer_id == filters.insurer_id)
    if filters.partner_id is not None:
        where.append(Case.partner_id == filters.partner_id)
    if filters.clerk_id is not None:
        where.append(Case.clerk_id == filters.clerk_id)
    if filters.deadline is not None:
        where += [Case.claim_letter_sent_at.is_(None), Case.received_at <= at - DEADLINE_AGE[filters.deadline]]
    if filters.received_from is not None:
        where.append(Case.received_at >= berlin_midnight_utc(filters.received_from))
    if filters.received_to is not None:
        where.append(Case.received_at < berlin_midnight_utc(filters.received_to))
    if filters.partner_kind is not None:
        where.append(Case.partner_kind == filters.partner_kind)
    if filters.region is not None:
        where.append(starts_with(Case.postal_code, filters.region, session.get_bind().dialect.name))
    return where


# --- rows -----------------------------------------------------------------------------------------


def _board_row(r, at: datetime) -> BoardRow:
    return BoardRow(
        number=r.number, status=r.status, damage_type=r.damage_type, received_at=r.received_at,
        deadline=claim_letter_deadline(
            status=r.status, received_at=r.received_at, claim_letter_sent_at=r.claim_letter_sent_at, at=at
        ),
        client=f"{r.first_name} {r.last_name}".strip(), city=r.city, plate=r.plate, insurer=r.insurer,
        partner=r.partner or "", clerk=r.clerk or "",
    )


def _export_row(r, at: datetime) -> dict[str, str]:
    row = _board_row(r, at)

    def eur(cents: int | None) -> str:
        return "" if cents is None else format_eur(cents)

    return {
        t("col.number"): row.number,
        t("col.status"): label(row.status),
        t("col.received"): format_dt(row.received_at),
        t("col.deadline"): label(row.deadline),
        t("col.damage_type"): label(row.damage_type),
        t("col.client"): row.client,
        t("col.city"): row.city,
        t("col.plate"): row.plate,
        t("col.insurer"): row.insurer,
        t("field.partner"): row.partner,
        t("field.clerk"): row.clerk,
        t("field.claim_letter_sent_at"): format_dt(r.claim_letter_sent_at),
        t("field.amount_claimed"): eur(r.amount_claimed_cents),
        t("field.amount_paid"): eur(r.amount_paid_cents),
        t("field.paid_at"): format_dt(r.paid_at),
        t("field.closed_at"): format_dt(r.closed_at),
    }
