"""The board's search text (core.board): case number, plate or client last name starts with it.

How a text becomes conditions the indexes can serve (`search_for`), and the first page of its hits in board order
(`sorted_hits`). The client's name is read from the case row (`cases.client_name_key`, core.client_names).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    and_,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import UnaryExpression

from core.client_names import name_key
from core.enums import CaseStatus
from core.errors import ValidationError
from core.validation import plate as parse_plate
from db.models import Case

#: Case-number and plate hits up to this many are fetched by primary key; more are matched while walking.
TEXT_FEW = 1_000
#: A page of a client-name prefix with this many hits or more walks the page order instead of sorting the hits.
NAME_DENSE = 5_000
#: A search counts the cases of each status up to this many (the tabs then say "über 1.000"): "s" has 200,000
#: hits at 1,000,000 cases, and counting them all would take longer than showing a page of them.
COUNT_CAP = 1_000

_PARTIAL_PLATE = re.compile(r"^([A-ZÄÖÜ]{1,3})[- ]+([A-Z]{1,2})$")
_LIKE_ESCAPE = "!"


@dataclass(frozen=True)
class Search:
    """What a search text adds to a query: either `arms`, disjoint conditions each read from its own index (the
    hits are then sorted; `dense` if there are too many), or `walk`, a condition tested on each row while a
    page is read in page order."""

    arms: tuple[ColumnElement[bool], ...] = ()
    walk: tuple[ColumnElement[bool], ...] = ()
    dense: tuple[ColumnElement[bool], ...] = ()  # with arms: the walk when the name arm has NAME_DENSE hits
    dialect: str = ""

    def pin(self, where: list[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
        """With arms, the other conditions with SQLite's unary `+` on every cases column, so that it reads the
        hits from the arm's index: without statistics it would rather walk a filter's index in page order
        (a partner's 250,000 orders) and test each row."""
        return [_walked(w, self.dialect) for w in where] if self.arms else where


def _unindexed(element):
    """A cases column as `+column` (SQLite uses no index for it); None (unchanged) for anything else."""
    if isinstance(element, Column) and element.table is Case.__table__:
        return UnaryExpression(element, operator=operators.custom_op("+"), type_=element.type)
    return None


def search_for(
    session: Session, text: str, *, statuses: tuple[CaseStatus, ...] | None, walk: bool
) -> Search:
    """Case number, plate or client last name starts with the search text.

    Usually the case number and plate hits are few (up to TEXT_FEW): they are fetched first, and a page or a
    count reads two disjoint arms, the client-name prefix as one range per wanted status (`statuses`, None:
    any) of ix_cases_status_client_name (which holds the page order and the counted filters too, so "möll",
    ~1 % of all cases, needs no table rows) and those few cases by primary key without the name hits. Only a
    page of a very common name prefix (NAME_DENSE hits or more: "m", "schu") is found faster by walking the
    page order and testing each case, as without a search.
    Many number or plate hits ("B-", a short case-number prefix) make one condition on the case row, walked
    (plates) or left to the database (numbers follow the intake, so their hits lie together, possibly far back).
    """
    if not text:
        return Search()
    dialect = session.get_bind().dialect.name
    named = starts_with(Case.client_name_key, name_key(text), dialect)
    # ix_cases_status_client_name: a name range per status (all of them named, as the index starts with them)
    name = and_(Case.status.in_(statuses or tuple(CaseStatus)), named)
    # ix_cases_number_upper; without a digit only the whole number: every number starts with "SP-"
    number = func.upper(Case.number)
    has_digit = any(ch.isdigit() for ch in text)
    numbered = starts_with(number, text.upper(), dialect) if has_digit else number == text.upper()
    numbers = select(Case.id).where(numbered).correlate(None)
    # ix_cases_plate_incident; a single letter is not a district ("S" would be S-, SB-, SU-, …): the whole plate
    plate = plate_prefix(text)
    plated = starts_with(Case.plate, plate, dialect) if len(plate) > 1 else Case.plate == plate
    plates = select(Case.id).where(plated).correlate(None)
    few = sorted(set(session.scalars(union_all(numbers, plates).limit(TEXT_FEW + 1))))
    if len(few) <= TEXT_FEW:
        arms = (name, and_(Case.id.in_(few), not_(named))) if few else (name,)
        either = or_(Case.id.in_(few), named) if few else named
        return Search(arms, dense=(_walked(either, dialect),), dialect=dialect)
    if not walk:  # counting: the name hits from their index, the other hits from the number and plate indexes
        return Search((name, and_(or_(numbered, plated), not_(named))), dialect=dialect)
    # a page: each case is tested, while walking the page order or as the database sees fit
    walk = len(session.scalars(numbers.limit(TEXT_FEW + 1)).all()) <= TEXT_FEW
    either = or_(numbered, plated, named if walk else name)
    return Search(walk=(_walked(either, dialect) if walk else either,), dialect=dialect)


def capped_counts(session: Session, where: list[ColumnElement[bool]], search: Search,
                  statuses: tuple[CaseStatus, ...]) -> tuple[Counter, set[str]]:
    """The search's hits per status (of `statuses`) meeting `where`, each arm counted up to COUNT_CAP + 1 per
    status (one statement per arm): (counts, the statuses with more than COUNT_CAP, whose count is COUNT_CAP)."""
    counts: Counter = Counter()
    capped: set[str] = set()
    for arm in search.arms:
        parts = [select(literal(str(s)), func.count()).select_from(
            select(Case.id).where(*search.pin(where), arm, Case.status == s).limit(COUNT_CAP + 1).subquery())
            for s in statuses]
        for status, n in session.execute(union_all(*parts)):
            if n > COUNT_CAP:
                capped.add(status)
            counts[status] += min(n, COUNT_CAP)
    return counts, capped


def sorted_hits(
    session: Session, where: list[ColumnElement[bool]], search: Search, limit: int
) -> list[tuple[datetime, int]] | None:
    """The first `limit` hits of a search's arms in board order, each arm read from its index and sorted.

    None on SQLite when the name arm has NAME_DENSE hits or more (read up to that many): walking the page order
    finds a page of them faster than sorting them all. PostgreSQL's planner makes that choice itself from its
    statistics of the name key (it walks the page-order index for "schu", ~5 % of all cases).
    """
    if search.dialect == "sqlite":
        probe = select(Case.id).where(*where, search.arms[0]).limit(NAME_DENSE).subquery()
        if session.scalar(select(func.count()).select_from(probe)) >= NAME_DENSE:
            return None
    keys: list[tuple[datetime, int]] = []
    for arm in search.arms:
        keys += [(r.received_at, r.id) for r in session.execute(keys_query([*where, arm], limit))]
    return sorted(keys, reverse=True)[:limit]


def keys_query(where: list[ColumnElement[bool]], limit: int) -> Select:
    """(received_at, id) of the first `limit` cases meeting `where`, in board order."""
    order = (Case.received_at.desc(), Case.id.desc())
    return select(Case.received_at, Case.id).where(*where).order_by(*order).limit(limit)


def _walked(condition: ColumnElement[bool], dialect: str) -> ColumnElement[bool]:
    """The condition on SQLite with no cases column indexed, so that another index is read (the page order for
    a walk, the arm's for `Search.pin`); PostgreSQL's planner weighs it with its statistics."""
    if dialect != "sqlite":
        return condition
    return visitors.replacement_traverse(condition, {}, _unindexed)


def starts_with(expr: ColumnElement[str], prefix: str, dialect: str) -> ColumnElement[bool]:
    """`expr` starts with `prefix`, written so that a b-tree index on `expr` can serve it.

    PostgreSQL: LIKE 'prefix%' on a text_pattern_ops index (right under any collation). SQLite: the range
    [prefix, successor) on its BINARY collation, which orders by code point exactly like the prefixes.
    """
    if dialect == "postgresql":
        escaped = "".join(_LIKE_ESCAPE + ch if ch in f"%_{_LIKE_ESCAPE}" else ch for ch in prefix)
        return expr.like(escaped + "%", escape=_LIKE_ESCAPE)
    upper = _successor(prefix)
    return expr >= prefix if upper is None else and_(expr >= prefix, expr < upper)


def _successor(prefix: str) -> str | None:
    """The smallest string above every string that starts with `prefix` (None: there is none)."""
    while prefix:
        code = ord(prefix[-1]) + 1
        if code <= 0x10FFFF:
            return prefix[:-1] + chr(0xE000 if 0xD800 <= code <= 0xDFFF else code)
        prefix = prefix[:-1]
    return None


def plate_prefix(text: str) -> str:
    """The search text as a stored plate starts: `b ab 12` -> `B-AB 12`, `B AB` -> `B-AB`, else upper-cased."""
    raw = " ".join(text.upper().split())
    try:
        return parse_plate(raw) or raw
    except ValidationError:
        partial = _PARTIAL_PLATE.match(raw)
        return f"{partial.group(1)}-{partial.group(2)}" if partial else raw
