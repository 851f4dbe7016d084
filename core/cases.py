"""Cases: numbering, creation, the one status-change function, and the case view (§4, §6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import (
    client_names,  # noqa: F401 — importing it installs the session hook that keeps the name search key current
    kpi_store,  # noqa: F401 — importing it installs the session hook that keeps the KPIs current
    notify,
    webhooks,
)
from core.audit import log_access
from core.enums import CaseStatus, DamageType, LegalBasis, PartnerKind
from core.errors import (
    ConflictError,
    NotFound,
    PermissionDenied,
    TransitionError,
    ValidationError,
)
from core.events import append_event
from core.i18n import label, t
from core.lifecycle import (
    DeadlineState,
    allowed_next,
    claim_letter_deadline,
    claim_letter_due,
    is_allowed,
)
from core.permissions import Action, Actor, can, require
from core.timeutil import now, to_berlin
from db.models import Assignment, Case, CaseEvent, Counter, Insurer, Person

DEFAULT_PARTNER_KIND = {
    DamageType.GLASS: PartnerKind.GLASS,
    DamageType.ACCIDENT: PartnerKind.APPRAISER,
    DamageType.OTHER: PartnerKind.WORKSHOP,
}


def next_case_number(session: Session, *, received_at: datetime) -> str:
    """The next number of the intake year, e.g. SP-2026-000123 (counter row locked while incremented)."""
    year = to_berlin(received_at).year
    name = f"case:{year}"
    _insert_ignore(session, Counter, {"name": name, "value": 0})
    counter = session.scalar(select(Counter).where(Counter.name == name).with_for_update())
    counter.value += 1
    session.flush()
    return f"SP-{year}-{counter.value:06d}"


def _insert_ignore(session: Session, model: type, values: dict) -> None:
    """INSERT unless a unique key exists already (race-free on SQLite and PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing())


@dataclass(frozen=True)
class NewCase:
    """The facts needed to open a case (the intake form builds it out in step 2)."""

    damage_type: DamageType
    insurer_name: str
    client_last_name: str
    postal_code: str
    client_first_name: str = ""
    client_email: str = ""
    client_phone: str = ""
    plate: str = ""
    vin: str = ""
    policy_number: str = ""
    insurer_claim_number: str = ""
    incident_date: date | None = None
    incident_description: str = ""
    broker_id: int | None = None
    received_at: datetime | None = None
    client_street: str = ""
    client_city: str = ""
    legal_basis: LegalBasis = LegalBasis.CONTRACT
    amount_claimed_cents: int | None = None
    clerk_id: int | None = None


def create_case(session: Session, *, actor: Actor, data: NewCase) -> Case:
    """Open a case with number, clerk and the `case_created` event (a broker only for its own agency)."""
    if not can(actor, Action.CREATE_CASE):
        require(actor, Action.SUBMIT_CASE)
        if actor.broker_id is None or data.broker_id != actor.broker_id:
            raise PermissionDenied(t("intake.broker_own_only"))
    if not data.client_last_name.strip():
        raise ValidationError("Bitte den Namen des Mandanten angeben.", field="client_last_name")
    if not (len(data.postal_code) == 5 and data.postal_code.isdigit()):
        raise ValidationError("Die Postleitzahl muss fünfstellig sein.", field="postal_code")
    insurer = get_or_create_insurer(session, name=data.insurer_name)
    received_at = data.received_at or now()
    client = Person(
        first_name=data.client_first_name.strip(), last_name=data.client_last_name.strip(),
        email=data.client_email.strip(), phone=data.client_phone.strip(), postal_code=data.postal_code,
        street=data.client_street.strip(), city=data.client_city.strip(), legal_basis=data.legal_basis,
        legal_basis_at=received_at,
    )
    session.add(client)
    session.flush()
    case = Case(
        number=next_case_number(session, received_at=received_at), status=CaseStatus.RECEIVED,
        damage_type=data.damage_type, partner_kind=DEFAULT_PARTNER_KIND[data.damage_type],
        insurer_id=insurer.id, client_id=client.id, broker_id=data.broker_id,
        clerk_id=data.clerk_id or (actor.user_id if actor.role in ("staff", "lawyer") else None),
        policy_number=data.policy_number.strip(), insurer_claim_number=data.insurer_claim_number.strip(),
        plate=data.plate.strip().upper(), vin=data.vin.strip().upper(), incident_date=data.incident_date,
        incident_description=data.incident_description.strip(), postal_code=data.postal_code,
        received_at=received_at, amount_claimed_cents=data.amount_claimed_cents,
        source="broker" if actor.role == "broker" else "intake",
    )
    session.add(case)
    session.flush()
    append_event(
        session, case=case, actor=actor, action="case_created",
        details={"damage_type": str(data.damage_type), "insurer": insurer.name}, at=received_at,
    )
    webhooks.emit(session, event="case.created", case=case, data={"damage_type": str(data.damage_type)})
    return case


def get_or_create_insurer(session: Session, *, name: str) -> Insurer:
    """The insurer of that name; an unknown one is added to the list."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError("Bitte die Versicherung angeben.", field="insurer")
    insurer = session.scalar(select(Insurer).where(Insurer.name == name))
    if insurer is None:  # insert-or-ignore: two intakes may add the same new insurer at once
        _insert_ignore(session, Insurer, {"name": name, "email": "", "created_at": now()})
        insurer = session.scalar(select(Insurer).where(Insurer.name == name))
    return insurer


def get_case(session: Session, *, number: str) -> Case | None:
    """The case with that number, or None (no permission check: callers check)."""
    return session.scalar(select(Case).where(Case.number == number))


def get_case_or_raise(session: Session, *, number: str) -> Case:
    case = get_case(session, number=number)
    if case is None:
        raise NotFound(t("case.refused"))
    return case


def lock_case(session: Session, *, actor: Actor, number: str, action: Action) -> Case:
    """The case row, locked for this transaction and freshly read, if the actor may do `action` on it;
    NotFound (revealing nothing) if it is missing or out of scope."""
    case = session.scalar(
        select(Case).where(Case.number == number).with_for_update(of=Case).execution_options(populate_existing=True)
    )
    if case is None or not can(actor, Action.VIEW_CASE, case):
        raise NotFound(t("case.refused"))
    require(actor, action, case)
    return case


def change_status(
    session: Session, *, actor: Actor, number: str, to: CaseStatus, reason: str = "",
    expected_version: int | None = None, amount_paid_cents: int | None = None, at: datetime | None = None,
    paid_at: datetime | None = None, send_mails: bool = True,
) -> Case:
    """Move a case along the lifecycle; refuses any pair outside the transition table. Writes the event.
    `send_mails=False`: no status mails, for a step the caller passes through in the same transaction."""
    case = session.scalar(
        select(Case).where(Case.number == number).with_for_update(of=Case).execution_options(populate_existing=True)
    )
    if case is None or not can(actor, Action.VIEW_CASE, case):
        raise NotFound(t("case.refused"))
    require(actor, Action.CHANGE_STATUS, case)
    if expected_version is not None and case.version != expected_version:
        raise ConflictError(t("case.conflict"))
    current = case.status
    if not is_allowed(current, to):
        raise TransitionError(t("case.transition_refused", src=label(current), dst=label(to)))
    at = at or now()
    reason = reason.strip()
    details: dict = {"from": str(current), "to": str(to)}
    if to == CaseStatus.CANCELLED:
        if not reason:
            raise ValidationError(t("case.reason_required"), field="reason")
        case.cancelled_at = at
        case.status_reason = reason
    elif to == CaseStatus.CLOSED and current != CaseStatus.PAID:
        # the insurer finally refuses: nothing paid, reason required
        if not reason:
            raise ValidationError(t("case.reason_required"), field="reason")
        if amount_paid_cents not in (None, 0):
            raise ValidationError(t("case.refusal_amount"), field="amount_paid")
        case.amount_paid_cents = 0
        case.closed_at = at
        case.status_reason = reason
    elif to == CaseStatus.CLOSED:
        case.closed_at = at
    elif to == CaseStatus.PAID:
        if amount_paid_cents is None:
            raise ValidationError(t("case.payment_required"), field="amount_paid")
        if case.amount_claimed_cents is None:
            raise ValidationError(t("case.claim_amount_missing"), field="amount_claimed")
        case.amount_paid_cents = amount_paid_cents
        case.paid_at = paid_at or at
        details["amount_paid_cents"] = amount_paid_cents
    elif to == CaseStatus.REVIEW:
        case.review_started_at = case.review_started_at or at
    elif to == CaseStatus.CLAIM_SENT and case.claim_letter_sent_at is None:
        case.claim_letter_sent_at = at
        case.throughput_hours = (at - case.received_at).total_seconds() / 3600
    if reason:
        details["reason"] = reason
    case.status = to
    append_event(session, case=case, actor=actor, action="status_changed", details=details, at=at)
    webhooks.emit(session, event="case.status_changed", case=case, data={"from": str(current), "to": str(to)})
    session.flush()
    if send_mails:
        notify.status_change_mails(session, case=case, previous=current, to=to)
    return case


# --- the case view (what a page shows) --------------------------------------------------------


@dataclass(frozen=True)
class EventView:
    at: datetime
    actor: str
    role: str
    action: str
    details: dict


@dataclass(frozen=True)
class CaseView:
    number: str
    version: int
    status: CaseStatus
    damage_type: DamageType
    insurer: str
    policy_number: str
    insurer_claim_number: str
    client_name: str
    client_contact: str
    plate: str
    vin: str
    incident_date: date | None
    incident_description: str
    broker: str
    partner: str
    clerk: str
    received_at: datetime
    claim_due_at: datetime
    deadline: DeadlineState
    claim_letter_sent_at: datetime | None
    amount_claimed_cents: int | None
    amount_paid_cents: int | None
    paid_at: datetime | None
    closed_at: datetime | None
    status_reason: str
    next_statuses: list[CaseStatus]
    events: list[EventView] = field(default_factory=list)
    assignment_reason: str = ""
    legal_hold: bool = False

    @property
    def cut_cents(self) -> int | None:
        if self.amount_claimed_cents is None or self.amount_paid_cents is None or self.paid_at is None:
            return None
        return self.amount_claimed_cents - self.amount_paid_cents


def open_case(session: Session, *, actor: Actor, number: str) -> CaseView | None:
    """The case as the actor may see it, logged; None (and a logged refusal) if missing or out of scope."""
    number = number.strip().upper()
    case = get_case(session, number=number) if number else None
    if case is None or not can(actor, Action.VIEW_CASE, case):
        log_access(session, actor=actor, action="refused", object_type="case", object_ref=number)
        return None
    log_access(session, actor=actor, action="view", object_type="case", object_ref=case.number)
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))
    client = case.client
    may_change = can(actor, Action.CHANGE_STATUS, case)
    return CaseView(
        number=case.number, version=case.version, status=case.status, damage_type=case.damage_type,
        insurer=case.insurer.name, policy_number=case.policy_number,
        insurer_claim_number=case.insurer_claim_number,
        client_name=f"{client.first_name} {client.last_name}".strip(),
        client_contact=" · ".join(x for x in (client.email, client.phone) if x),
        plate=case.plate, vin=case.vin, incident_date=case.incident_date,
        incident_description=case.incident_description,
        broker=case.broker.name if case.broker else "", partner=case.partner.name if case.partner else "",
        clerk=case.clerk.display_name if case.clerk else "", received_at=case.received_at,
        claim_due_at=claim_letter_due(case.received_at),
        deadline=claim_letter_deadline(
            status=case.status, received_at=case.received_at, claim_letter_sent_at=case.claim_letter_sent_at,
            at=now(),
        ),
        claim_letter_sent_at=case.claim_letter_sent_at, amount_claimed_cents=case.amount_claimed_cents,
        amount_paid_cents=case.amount_paid_cents, paid_at=case.paid_at, closed_at=case.closed_at,
        status_reason=case.status_reason, next_statuses=allowed_next(case.status) if may_change else [],
        events=[EventView(e.at, e.actor_name, e.actor_role, e.action, e.details) for e in events],
        assignment_reason=session.scalar(
            select(Assignment.reason).where(Assignment.case_id == case.id)
            .order_by(Assignment.assigned_at.desc(), Assignment.id.desc()).limit(1)
        ) or "",
        legal_hold=case.legal_hold,
    )


def list_insurers(session: Session) -> list[str]:
    """The maintained insurer list, by name."""
    return list(session.scalars(select(Insurer.name).order_by(Insurer.name)))


def list_brokers(session: Session) -> list[tuple[int, str]]:
    """(id, name) of all brokers, for the intake form."""
    from db.models import Broker

    return [(b.id, b.name) for b in session.scalars(select(Broker).order_by(Broker.name))]
