"""Full-text search over case documents (§9), only within what the searching user may see.

PostgreSQL: `to_tsvector('german', text) @@ to_tsquery('german', …)` on the GIN expression index (German
stemming: "Fahrzeuge" finds "Fahrzeug"), `ts_rank` and `ts_headline`. SQLite: the FTS5 table
`document_search` (unicode61 tokenizer without diacritics: "Schaden" finds "Schäden"), `bm25` and `snippet`.
On both, every word must occur and a word also matches as the start of a longer one.

User input never reaches either query language as syntax: it is split into words of letters and digits, and
each word is quoted (FTS5 `"wort"*`, tsquery `'wort':*`), so quotes, brackets, operators (AND, OR, NOT, NEAR,
`-`, `:`, `*`) and SQL fragments are just separators.

Scope: the rules of core.documents (`_downloadable_kinds`) and core.permissions (`in_scope`): back office and
managers search every case, a partner only the orders of its business, a broker only the appraisal reports of
its own cases. The SQL filter applies them; every hit is checked again against the same functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import Float, column, false, func, literal_column, select, table
from sqlalchemy.orm import Session

from core.audit import log_access
from core.documents import _downloadable_kinds, display_name
from core.enums import DocumentKind, Role
from core.ocr import ExtractionStatus
from core.permissions import Action, Actor, can, in_scope, require
from db.models import Case, Document, DocumentVersion
from db.search_index import FTS_TABLE

MAX_TERMS = 8
MAX_TERM_CHARS = 40
MIN_TERM_CHARS = 2
MAX_LIMIT = 100
HIGHLIGHT = ("«", "»")
_WORD = re.compile(r"[^\W_]+")

_fts = table(FTS_TABLE, column("rowid"), column("text"))
_GERMAN = literal_column("'german'::regconfig")  # a constant, so the GIN expression index applies


@dataclass(frozen=True)
class SearchHit:
    case_number: str
    document_name: str
    kind: DocumentKind
    version: int
    version_id: int
    snippet: str  # plain text, the matched words between « and »
    rank: float  # higher is better
    extraction: ExtractionStatus
    uploaded_at: datetime


@dataclass(frozen=True)
class ExtractionSummary:
    """How many versions in the actor's scope are not (fully) searchable yet, by status."""

    pending: int = 0
    ocr_unavailable: int = 0
    failed: int = 0


def search_terms(query: str) -> list[str]:
    """The words of a query: letters and digits only, at least two characters, at most MAX_TERMS, lower case."""
    terms: list[str] = []
    for word in _WORD.findall(query or ""):
        word = word.lower()[:MAX_TERM_CHARS]
        if len(word) >= MIN_TERM_CHARS and word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def fts5_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: every term quoted, as a prefix, all required."""
    return " ".join('"' + term.replace('"', '""') + '"*' for term in terms)


def tsquery_text(terms: list[str]) -> str:
    """A to_tsquery expression: every term quoted, as a prefix, all required."""
    return " & ".join("'" + term.replace("'", "''").replace("\\", "") + "':*" for term in terms)


def search_documents(session: Session, *, actor: Actor, query: str, limit: int = 50) -> list[SearchHit]:
    """The document versions matching every word of `query`, best first, within the actor's scope (logged)."""
    require(actor, Action.SEARCH_DOCUMENTS)
    terms = search_terms(query)
    if not terms:
        return []
    limit = max(1, min(limit, MAX_LIMIT))
    if session.get_bind().dialect.name == "postgresql":
        rows = _search_postgresql(session, actor=actor, terms=terms, limit=limit)
    else:
        rows = _search_sqlite(session, actor=actor, terms=terms, limit=limit)
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.id.in_({r.case_id for r in rows})))}
    hits = []
    for row in rows:
        case = cases[row.case_id]
        if not (can(actor, Action.VIEW_CASE, case) and row.kind in _downloadable_kinds(actor, case)):
            continue  # never reached while the SQL filter matches the rules; the rules decide
        hits.append(SearchHit(
            case_number=case.number, document_name=display_name(row.original_name, row.mime), kind=row.kind,
            version=row.version, version_id=row.id, snippet=" ".join((row.snippet or "").split()),
            rank=float(row.rank or 0.0), extraction=row.extraction_status, uploaded_at=row.uploaded_at,
        ))
    for number in dict.fromkeys(hit.case_number for hit in hits):  # who read which case's text (no query)
        log_access(session, actor=actor, action="search", object_type="case", object_ref=number)
    return hits


def extraction_summary(session: Session, *, actor: Actor) -> ExtractionSummary:
    """Counts of versions in the actor's scope that wait for OCR, lack it (no Tesseract) or failed."""
    require(actor, Action.SEARCH_DOCUMENTS)
    statuses = (ExtractionStatus.PENDING, ExtractionStatus.OCR_UNAVAILABLE, ExtractionStatus.FAILED)
    rows = session.execute(
        _scoped(select(DocumentVersion.extraction_status, func.count()), actor)
        .where(DocumentVersion.extraction_status.in_(statuses))
        .group_by(DocumentVersion.extraction_status)
    ).all()
    counts = {str(status): n for status, n in rows}
    return ExtractionSummary(**{str(s): counts.get(str(s), 0) for s in statuses})


def _scoped(stmt, actor: Actor):
    """Join a statement on document_versions to its document and case, limited to the actor's scope."""
    stmt = (stmt.select_from(DocumentVersion).join(Document, Document.id == DocumentVersion.document_id)
            .join(Case, Case.id == Document.case_id))
    if actor.role == Role.PARTNER:
        stmt = stmt.where(Case.partner_id == actor.partner_id) if actor.partner_id else stmt.where(false())
    elif actor.role == Role.BROKER:
        stmt = stmt.where(Case.broker_id == actor.broker_id) if actor.broker_id else stmt.where(false())
    elif actor.role == Role.CLIENT:
        stmt = stmt.where(Case.id == actor.case_id) if actor.case_id else stmt.where(false())
    kinds = _kinds_by_role(actor)
    if kinds != frozenset(DocumentKind):
        stmt = stmt.where(Document.kind.in_(kinds) if kinds else false())
    return stmt


def _kinds_by_role(actor: Actor) -> frozenset[DocumentKind]:
    """The document kinds the actor may download on a case within its own scope (as core.documents decides)."""
    own = SimpleNamespace(id=actor.case_id, partner_id=actor.partner_id, broker_id=actor.broker_id)
    return _downloadable_kinds(actor, own) if in_scope(actor, own) else frozenset()


def _columns():
    return (DocumentVersion.id, DocumentVersion.version, DocumentVersion.original_name, DocumentVersion.mime,
            DocumentVersion.extraction_status, DocumentVersion.uploaded_at, Document.kind, Document.case_id)


def _search_sqlite(session: Session, *, actor: Actor, terms: list[str], limit: int) -> list:
    match = literal_column(FTS_TABLE).op("MATCH")(fts5_query(terms))
    score = func.bm25(literal_column(FTS_TABLE), type_=Float)
    snippet = func.snippet(literal_column(FTS_TABLE), 0, HIGHLIGHT[0], HIGHLIGHT[1], " … ", 16)
    stmt = (
        _scoped(select(*_columns(), snippet.label("snippet"), (-score).label("rank")), actor)
        .join(_fts, _fts.c.rowid == DocumentVersion.id)
        .where(match)
        .order_by(score, DocumentVersion.id.desc())
        .limit(limit)
    )
    return session.execute(stmt).all()


def _search_postgresql(session: Session, *, actor: Actor, terms: list[str], limit: int) -> list:
    query = func.to_tsquery(_GERMAN, tsquery_text(terms))
    vector = func.to_tsvector(_GERMAN, DocumentVersion.text)
    rank = func.ts_rank(vector, query, type_=Float)
    best = (
        _scoped(select(*_columns(), rank.label("rank")), actor)
        .where(vector.op("@@")(query))
        .order_by(rank.desc(), DocumentVersion.id.desc())
        .limit(limit)
        .subquery()
    )
    options = (f"StartSel={HIGHLIGHT[0]}, StopSel={HIGHLIGHT[1]}, MaxWords=30, MinWords=12, MaxFragments=2, "
               'FragmentDelimiter=" … "')
    headline = func.ts_headline(_GERMAN, DocumentVersion.text, query, options)
    stmt = (
        select(*best.c, headline.label("snippet"))
        .join(DocumentVersion, DocumentVersion.id == best.c.id)
        .order_by(best.c.rank.desc(), best.c.id.desc())
    )
    return session.execute(stmt).all()
