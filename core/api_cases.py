"""What the REST API (api/) reads beyond the shared services: a page of the caller's own cases with the total.

Submitting, status, timeline and uploads go through the same services as the pages (core.intake,
core.cases.open_case, core.documents.add_document), so validation and refusals are identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit import log_access
from core.enums import CaseStatus, DamageType
from core.lifecycle import DeadlineState, claim_letter_deadline
from core.permissions import Action, Actor, can, require
from core.timeutil import now
from db.models import Case, Insurer, Person

MAX_PER_PAGE = 100


@dataclass(frozen=True)
class CaseSummary:
    number: str
    status: CaseStatus
    damage_type: DamageType
    received_at: datetime
    deadline: DeadlineState
    client: str
    plate: str
    insurer: str


@dataclass(frozen=True)
class CasePage:
    items: list[CaseSummary]
    page: int
    per_page: int
    total: int


def list_own_cases(session: Session, *, actor: Actor, page: int = 1, per_page: int = 20) -> CasePage:
    """The caller's cases, newest first, one page of them with the total: a broker its agency's, an admin all.
    The page shown (it carries clients' names) is written to the access log."""
    require(actor, Action.USE_API)
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    scope = []
    if not can(actor, Action.LIST_CASES):
        scope = [Case.broker_id == actor.broker_id] if actor.broker_id is not None else [Case.id.is_(None)]
    total = session.scalar(select(func.count()).select_from(Case).where(*scope))
    rows = session.execute(
        select(Case.number, Case.status, Case.damage_type, Case.received_at, Case.claim_letter_sent_at,
               Person.first_name, Person.last_name, Case.plate, Insurer.name)
        .join(Person, Case.client_id == Person.id).join(Insurer, Case.insurer_id == Insurer.id)
        .where(*scope).order_by(Case.received_at.desc(), Case.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    at = now()
    items = [
        CaseSummary(r.number, r.status, r.damage_type, r.received_at,
                    claim_letter_deadline(status=r.status, received_at=r.received_at,
                                          claim_letter_sent_at=r.claim_letter_sent_at, at=at),
                    f"{r.first_name} {r.last_name}".strip(), r.plate, r.name)
        for r in rows
    ]
    numbers = ", ".join(i.number for i in items)
    log_access(session, actor=actor, action="list", object_type="api_cases",
               object_ref=items[0].number if items else "", detail=f"page={page}; {len(items)}: {numbers}"[:500])
    return CasePage(items, page, per_page, total)
