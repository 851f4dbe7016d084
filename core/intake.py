"""Intake (§4, 0–2 h): validate the form, show possible duplicates, open the case with clerk,
checklist tasks and photos in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core import notify, validation
from core.assignment import assign_partner
from core.cases import NewCase, create_case
from core.checklist import REQUIRED
from core.client_portal import queue_status_link_mail
from core.documents import upload_document
from core.enums import OPEN_STATUSES, DamageType, DocumentKind, LegalBasis, Role
from core.errors import ValidationError
from core.i18n import label, t
from core.money import parse_eur
from core.permissions import Action, Actor, can, require
from core.settings import Settings
from core.tasks import create_task
from core.timeutil import now, to_berlin
from db.models import Case, Person, User

DOCUMENT_TASK_DUE = timedelta(hours=24)
DUPLICATE_LIMIT = 10


class FieldErrors(ValidationError):
    """Several fields are wrong at once; `errors` maps field name to its German message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(t("intake.fix_fields", count=len(errors)))
        self.errors = errors


@dataclass(frozen=True)
class IntakeForm:
    """What the intake form collects, as typed."""

    damage_type: str
    insurer: str
    client_last_name: str
    client_postal_code: str
    client_first_name: str = ""
    client_email: str = ""
    client_phone: str = ""
    client_street: str = ""
    client_city: str = ""
    policy_number: str = ""
    insurer_claim_number: str = ""
    plate: str = ""
    vin: str = ""
    incident_date: date | None = None
    incident_description: str = ""
    amount_claimed: str = ""
    broker_id: int | None = None
    legal_basis: str = LegalBasis.CONTRACT.value


@dataclass(frozen=True)
class DuplicateHit:
    number: str
    client: str
    plate: str
    incident_date: date | None
    insurer_claim_number: str
    reason: str


@dataclass(frozen=True)
class Photo:
    filename: str
    data: bytes


@dataclass(frozen=True)
class IntakeResult:
    number: str
    clerk: str
    missing_documents: list[DocumentKind] = field(default_factory=list)


def validate_intake(form: IntakeForm, *, today: date) -> NewCase:
    """All field rules at once; raises FieldErrors listing every wrong field."""
    errors: dict[str, str] = {}

    def check(name: str, fn, *args, **kwargs):
        try:
            return fn(*args, field=name, **kwargs)
        except ValidationError as exc:
            errors[name] = str(exc)
            return None

    if form.damage_type not in DamageType._value2member_map_:
        errors["damage_type"] = t("intake.damage_type_required")
    insurer = check("insurer", validation.required_text, form.insurer, label=t("field.insurer"))
    last = check("client_last_name", validation.required_text, form.client_last_name, label=t("intake.last_name"),
                 max_len=100)
    postal = check("client_postal_code", validation.postal_code, form.client_postal_code)
    email = check("client_email", validation.email, form.client_email)
    plate = check("plate", validation.plate, form.plate)
    vin = check("vin", validation.vin, form.vin)
    incident = check("incident_date", validation.past_date, form.incident_date, today=today, required=True)
    amount = check("amount_claimed", parse_eur, form.amount_claimed) if form.amount_claimed.strip() else None
    if not (form.client_email.strip() or form.client_phone.strip()):
        errors.setdefault("client_email", t("intake.contact_required"))
    if form.legal_basis not in LegalBasis._value2member_map_:
        errors["legal_basis"] = t("intake.legal_basis_required")
    for name, value, limit in (("incident_description", form.incident_description, 5000),  # the column sizes
                               ("policy_number", form.policy_number, 50),
                               ("insurer_claim_number", form.insurer_claim_number, 50),
                               ("client_phone", form.client_phone, 50),
                               ("client_first_name", form.client_first_name, 100),
                               ("client_street", form.client_street, 200),
                               ("client_city", form.client_city, 100)):
        if len(value.strip()) > limit:
            errors[name] = t("intake.too_long", max=limit)
    for name, value in vars(form).items():  # PostgreSQL cannot store a NUL character in text
        if isinstance(value, str) and "\x00" in value:
            errors.setdefault(name, t("intake.control_character"))
    if errors:
        raise FieldErrors(errors)
    return NewCase(
        damage_type=DamageType(form.damage_type), insurer_name=insurer, client_last_name=last,
        postal_code=postal, client_first_name=" ".join(form.client_first_name.split()), client_email=email,
        client_phone=form.client_phone.strip(), client_street=" ".join(form.client_street.split()),
        client_city=" ".join(form.client_city.split()), plate=plate, vin=vin,
        policy_number=form.policy_number.strip(), insurer_claim_number=form.insurer_claim_number.strip(),
        incident_date=incident, incident_description=form.incident_description.strip(),
        broker_id=form.broker_id, legal_basis=LegalBasis(form.legal_basis), amount_claimed_cents=amount,
    )


def find_duplicates(
    session: Session, *, actor: Actor, plate: str, incident_date: date | None, insurer_claim_number: str
) -> list[DuplicateHit]:
    """Cases with the same plate and incident date, or the same insurer claim number (§4)."""
    if not (can(actor, Action.CREATE_CASE) or can(actor, Action.SUBMIT_CASE)):
        require(actor, Action.CREATE_CASE)
    conditions = []
    plate = plate.strip()
    if plate and incident_date:
        conditions.append((Case.plate == plate) & (Case.incident_date == incident_date))
    if insurer_claim_number.strip():
        conditions.append(Case.insurer_claim_number == insurer_claim_number.strip())
    if not conditions:
        return []
    stmt = select(Case, Person.first_name, Person.last_name).join(Person, Case.client_id == Person.id).where(
        or_(*conditions)
    )
    if not can(actor, Action.LIST_CASES):  # a broker learns only about its own cases
        stmt = stmt.where(Case.broker_id == actor.broker_id)
    hits = []
    for case, first, last in session.execute(stmt.order_by(Case.received_at.desc()).limit(DUPLICATE_LIMIT)):
        same_claim = bool(insurer_claim_number.strip()) and case.insurer_claim_number == insurer_claim_number.strip()
        reason = t("intake.dup_claim_number") if same_claim else t("intake.dup_plate_date")
        hits.append(DuplicateHit(case.number, f"{first} {last}".strip(), case.plate, case.incident_date,
                                 case.insurer_claim_number, reason))
    return hits


def pick_clerk(session: Session) -> User | None:
    """The active clerk (staff or lawyer) with the fewest open cases; ties go to the lowest id."""
    open_count = (
        select(func.count()).select_from(Case)
        .where(Case.clerk_id == User.id, Case.status.in_(OPEN_STATUSES))
        .correlate(User).scalar_subquery()
    )
    return session.scalar(
        select(User).where(User.is_active.is_(True), User.role.in_((Role.STAFF, Role.LAWYER)))
        .order_by(open_count, User.id).limit(1)
    )


def take_in_case(
    session: Session, *, actor: Actor, settings: Settings, form: IntakeForm, photos: list[Photo] | None = None,
    at: datetime | None = None,
) -> IntakeResult:
    """Open the case: number, responsible clerk, photos, a task per missing required document."""
    if actor.role == Role.BROKER:
        form = IntakeForm(**{**form.__dict__, "broker_id": actor.broker_id})
    data = validate_intake(form, today=to_berlin(at or now()).date())
    clerk = pick_clerk(session)
    data = NewCase(**{**data.__dict__, "clerk_id": clerk.id if clerk else None, "received_at": at})
    case = create_case(session, actor=actor, data=data)
    if assign_partner(session, actor=actor, case=case) is None:
        create_task(session, actor=actor, case=case, title=t("assign.none_task"), kind="assignment",
                    due_at=case.received_at + DOCUMENT_TASK_DUE)
    for photo in photos or []:
        upload_document(session, actor=actor, settings=settings, case_number=case.number,
                        kind=DocumentKind.PHOTO, filename=photo.filename, data=photo.data)
    present = {DocumentKind.PHOTO} if photos else set()
    missing = [kind for kind in REQUIRED[data.damage_type] if kind not in present]
    due = case.received_at + DOCUMENT_TASK_DUE
    for kind in missing:
        create_task(session, actor=actor, case=case, title=t("intake.task_missing_doc", doc=label(kind)),
                    kind=f"document:{kind.value}", due_at=due, notify_client=False)
    # One mail to the client at intake (only if it gave an e-mail address), with its status link: the documents
    # it is asked for, all in one mail; with none to ask for, the status mail alone.
    if not notify.document_request_mail(session, case=case, kinds=missing, reason="intake"):
        queue_status_link_mail(session, case=case, reason="intake")
    return IntakeResult(case.number, clerk.display_name if clerk else "", missing)

