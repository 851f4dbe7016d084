"""Partner applications (§3, §7): the public form "Partner werden" and the admins' decision.

A visitor's application is checked (captcha, rate limit, every field) before anything is written. Approving
it creates the partner business, its login with a one-time set-password link by mail, and the trial month
with a reminder task; rejecting it needs a reason and tells the applicant.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import random
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import validation
from core.audit import log_access
from core.auth import PASSWORD_LINK_DAYS, password_link_token
from core.enums import ApplicationStatus, PartnerKind, Role
from core.errors import NotFound, ValidationError
from core.i18n import t
from core.outbox import enqueue_mail
from core.partners import MAX_CAPACITY
from core.permissions import Action, Actor, require
from core.settings import Settings
from core.timeutil import BERLIN, format_date, now, to_berlin
from core.users import create_user
from db.models import Partner, PartnerApplication, Task, User

PER_IP_PER_HOUR = 3
TOTAL_PER_HOUR = 30
MESSAGE_MAX = 1000
_PHONE = re.compile(r"^[0-9+()/ .-]*$")
_USERNAME_BAD = re.compile(r"[^a-z0-9._-]+")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


@dataclass(frozen=True)
class Captcha:
    question: str
    answer: int


def make_captcha(rng: random.Random) -> Captcha:
    """A small sum or difference with a non-negative answer, e.g. "Wie viel ist 7 + 5?"."""
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    if rng.random() < 0.5:
        return Captcha(t("apply.captcha_question", a=a, op="+", b=b), a + b)
    big, small = max(a, b), min(a, b)
    return Captcha(t("apply.captcha_question", a=big, op="−", b=small), big - small)


@dataclass(frozen=True)
class ApplicationForm:
    """What the public form collects, as typed."""

    business_name: str
    kind: PartnerKind | str | None
    street: str
    postal_code: str
    city: str
    regions: str
    contact_name: str
    email: str
    weekly_capacity: int
    consent: bool
    phone: str = ""
    message: str = ""


def clean_text(value: str, *, keep_lines: bool = False) -> str:
    """Text without control characters (PostgreSQL refuses NUL); runs of spaces become one space."""
    lines = "".join(ch if ch == "\n" or unicodedata.category(ch) != "Cc" else " " for ch in value or "")
    if keep_lines:
        return "\n".join(" ".join(line.split()) for line in lines.splitlines()).strip()
    return " ".join(lines.split())


def normalise_regions(value: str) -> str:
    """Two-digit postal-code prefixes (01–99), separated by commas or spaces, as "10,12,13"."""
    parts = [p for p in re.split(r"[\s,;]+", value or "") if p]
    if not parts:
        raise ValidationError(t("apply.regions_missing"), field="regions")
    seen: list[str] = []
    for part in parts:
        if not (len(part) == 2 and part.isascii() and part.isdigit()) or part == "00":
            raise ValidationError(t("apply.region_bad", value=part[:10]), field="regions")
        if part in seen:
            raise ValidationError(t("apply.region_twice", value=part), field="regions")
        seen.append(part)
    return ",".join(sorted(seen))


def _text(value: str, *, field: str, max_len: int, required: bool = True) -> str:
    raw = clean_text(value)
    if required and not raw:
        raise ValidationError(t(f"apply.missing_{field}"), field=field)
    if len(raw) > max_len:
        raise ValidationError(t("apply.too_long", label=t(f"apply.{field}"), max=max_len), field=field)
    return raw


def _kind(value: PartnerKind | str | None) -> PartnerKind:
    try:
        return PartnerKind(value)
    except ValueError:
        raise ValidationError(t("apply.missing_kind"), field="kind") from None


def _capacity(value: int | None) -> int:
    if not isinstance(value, int) or not 1 <= value <= MAX_CAPACITY:
        raise ValidationError(t("apply.capacity_range", max=MAX_CAPACITY), field="weekly_capacity")
    return value


def _phone(value: str) -> str:
    raw = _text(value, field="phone", max_len=50, required=False)
    if not _PHONE.match(raw):
        raise ValidationError(t("apply.phone_bad"), field="phone")
    return raw


def validate_application(form: ApplicationForm) -> dict:
    """The form's fields, checked and normalised, in the order the form shows them (first error raised)."""
    values = {
        "business_name": _text(form.business_name, field="business_name", max_len=200),
        "kind": _kind(form.kind),
        "street": _text(form.street, field="street", max_len=200),
        "postal_code": validation.postal_code(form.postal_code or ""),
        "city": _text(form.city, field="city", max_len=100),
        "regions": normalise_regions(form.regions),
        "contact_name": _text(form.contact_name, field="contact_name", max_len=200),
        "email": validation.email(form.email or "", required=True),
        "phone": _phone(form.phone),
        "weekly_capacity": _capacity(form.weekly_capacity),
        "message": clean_text(form.message, keep_lines=True)[:MESSAGE_MAX],
    }
    if len(values["regions"]) > 400:
        raise ValidationError(t("apply.too_long", label=t("apply.regions"), max=400), field="regions")
    if not form.consent:
        raise ValidationError(t("apply.consent_missing"), field="consent")
    return values


def ip_hash(settings: Settings, ip: str) -> str:
    """HMAC-SHA256 of the address keyed with the cookie key: enough to count, never the address itself."""
    return hmac.new(settings.cookie_key.encode(), ip.encode(), hashlib.sha256).hexdigest()


def _check_rate(session: Session, *, hashed: str, at: datetime) -> None:
    since = at - timedelta(hours=1)
    recent = select(func.count()).select_from(PartnerApplication).where(PartnerApplication.created_at > since)
    if session.scalar(recent.where(PartnerApplication.ip_hash == hashed)) >= PER_IP_PER_HOUR:
        raise ValidationError(t("apply.rate_ip"))
    if session.scalar(recent) >= TOTAL_PER_HOUR:
        raise ValidationError(t("apply.rate_total"))


def submit_application(
    session: Session, *, form: ApplicationForm, captcha_answer: int, captcha_given: str, ip: str,
    settings: Settings, at: datetime | None = None,
) -> PartnerApplication:
    """Store a visitor's application after the captcha, the rate limit and every field have passed."""
    at = at or now()
    given = (captcha_given or "").strip()
    if not (given.isascii() and given.isdigit() and int(given) == captcha_answer):
        raise ValidationError(t("apply.captcha_wrong"), field="captcha")
    hashed = ip_hash(settings, ip)
    _check_rate(session, hashed=hashed, at=at)
    values = validate_application(form)
    application = PartnerApplication(**values, consent_at=at, ip_hash=hashed, created_at=at)
    session.add(application)
    session.flush()
    return application


# --- the admins' side ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationRow:
    id: int
    created_at: datetime
    business_name: str
    kind: PartnerKind
    street: str
    postal_code: str
    city: str
    regions: str
    contact_name: str
    email: str
    phone: str
    weekly_capacity: int
    message: str
    status: ApplicationStatus
    decided_at: datetime | None
    decided_by: str
    reject_reason: str
    partner: str


def list_applications(
    session: Session, *, actor: Actor, status: ApplicationStatus | None = None
) -> list[ApplicationRow]:
    """Applications, newest first (only one status where given)."""
    require(actor, Action.MANAGE_PARTNERS)
    query = (
        select(PartnerApplication, User.username, Partner.name)
        .outerjoin(User, User.id == PartnerApplication.decided_by_id)
        .outerjoin(Partner, Partner.id == PartnerApplication.partner_id)
        .order_by(PartnerApplication.created_at.desc(), PartnerApplication.id.desc())
    )
    if status is not None:
        query = query.where(PartnerApplication.status == status)
    return [
        ApplicationRow(
            a.id, a.created_at, a.business_name, a.kind, a.street, a.postal_code, a.city, a.regions, a.contact_name,
            a.email, a.phone, a.weekly_capacity, a.message, a.status, a.decided_at, by or "", a.reject_reason,
            partner or "",
        )
        for a, by, partner in session.execute(query)
    ]


@dataclass(frozen=True)
class ApprovalResult:
    partner_id: int
    user_id: int
    username: str
    trial_until: date
    password_link: str


def add_month(day: date) -> date:
    """The same day one calendar month later (31 January -> 28/29 February)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def propose_username(session: Session, business_name: str) -> str:
    """A free login name from the business name: lower-case a–z, 0–9, ".", "_", "-" (umlauts spelt out)."""
    ascii_name = unicodedata.normalize("NFKD", business_name.lower().translate(_UMLAUTS))
    base = _USERNAME_BAD.sub("-", ascii_name.encode("ascii", "ignore").decode())[:40].strip("-._")
    base = base if len(base) >= 3 else "betrieb"
    taken = set(session.scalars(select(User.username).where(User.username.like(f"{base}%"))))
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}{n}"
    return candidate


def _pending(session: Session, application_id: int) -> PartnerApplication:
    application = session.get(PartnerApplication, application_id, with_for_update=True, populate_existing=True)
    if application is None:
        raise NotFound(t("apply.not_found"))
    if application.status != ApplicationStatus.PENDING:
        raise ValidationError(t("apply.already_decided"))
    return application


def approve_application(
    session: Session, *, actor: Actor, settings: Settings, application_id: int, username: str | None = None,
    at: datetime | None = None,
) -> ApprovalResult:
    """Admit the business: partner, login, trial month with a reminder task, welcome mail with the link."""
    require(actor, Action.MANAGE_PARTNERS)
    at = at or now()
    a = _pending(session, application_id)
    trial_until = add_month(to_berlin(at).date())
    partner = Partner(
        name=a.business_name, kind=a.kind, street=a.street, postal_code=a.postal_code, city=a.city,
        regions=a.regions, email=a.email, phone=a.phone, weekly_capacity=a.weekly_capacity,
        commission_bp=settings.appraiser_commission_bp if a.kind == PartnerKind.APPRAISER else 0,
        trial_until=trial_until,
    )
    session.add(partner)
    session.flush()
    login = (username or "").strip() or propose_username(session, a.business_name)
    user = create_user(  # nobody knows this password: the partner sets one through the mailed link
        session, actor=actor, username=login, display_name=a.business_name, email=a.email, role=Role.PARTNER,
        password=secrets.token_urlsafe(32), partner_id=partner.id,
    )
    session.add(Task(
        case_id=None, partner_id=partner.id, kind="reminder", title=t("apply.trial_task", name=a.business_name)[:300],
        due_at=datetime.combine(trial_until, time(9), tzinfo=BERLIN), assignee_id=actor.user_id,
        created_by_id=actor.user_id,
    ))
    a.status, a.decided_at, a.decided_by_id, a.partner_id = ApplicationStatus.APPROVED, at, actor.user_id, partner.id
    token = password_link_token(settings, user_id=user.id, password_hash=user.password_hash)
    link = f"{settings.base_url}/passwort?token={token}"
    enqueue_mail(
        session, idempotency_key=f"partner_approved:{a.id}", template_key="partner_approved", recipient=a.email,
        values={"ansprechpartner": a.contact_name, "betrieb": a.business_name, "benutzername": user.username,
                "probemonat_bis": format_date(trial_until), "passwort_link": link, "gueltig_tage": PASSWORD_LINK_DAYS},
    )
    log_access(session, actor=actor, action="approve", object_type="partner_application", object_ref=str(a.id))
    session.flush()
    return ApprovalResult(partner.id, user.id, user.username, trial_until, link)


def reject_application(session: Session, *, actor: Actor, application_id: int, reason: str) -> None:
    """Turn the application down with a reason; the applicant gets it by mail."""
    require(actor, Action.MANAGE_PARTNERS)
    reason = clean_text(reason)[:500]
    if not reason:
        raise ValidationError(t("apply.reject_reason"), field="reason")
    a = _pending(session, application_id)
    a.status, a.decided_at, a.decided_by_id, a.reject_reason = ApplicationStatus.REJECTED, now(), actor.user_id, reason
    enqueue_mail(
        session, idempotency_key=f"partner_rejected:{a.id}", template_key="partner_rejected", recipient=a.email,
        values={"ansprechpartner": a.contact_name, "betrieb": a.business_name, "grund": reason},
    )
    log_access(session, actor=actor, action="reject", object_type="partner_application", object_ref=str(a.id))
    session.flush()
