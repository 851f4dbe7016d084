"""Partner businesses: a partner's own profile (contact, IBAN, capacity, holiday pause)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from core import validation
from core.enums import PartnerKind
from core.errors import NotFound, ValidationError
from core.i18n import t
from core.permissions import Action, Actor, require
from db.models import Partner

MAX_CAPACITY = 500


@dataclass(frozen=True)
class PartnerProfile:
    name: str
    kind: PartnerKind
    street: str
    postal_code: str
    city: str
    regions: str
    email: str
    phone: str
    iban: str
    weekly_capacity: int
    paused: bool
    trial_until: date | None


def _own(session: Session, actor: Actor) -> Partner:
    require(actor, Action.EDIT_OWN_PROFILE)
    partner = session.get(Partner, actor.partner_id) if actor.partner_id else None
    if partner is None:
        raise NotFound(t("home.not_linked"))
    return partner


def get_own_profile(session: Session, *, actor: Actor) -> PartnerProfile:
    """The actor's own business, as it may edit it."""
    p = _own(session, actor)
    return PartnerProfile(p.name, p.kind, p.street, p.postal_code, p.city, p.regions, p.email, p.phone, p.iban,
                          p.weekly_capacity, p.paused, p.trial_until)


def update_own_profile(
    session: Session, *, actor: Actor, street: str, postal_code: str, city: str, email: str, phone: str,
    iban: str, weekly_capacity: int, paused: bool,
) -> None:
    """Save address, contact, IBAN (checksum checked), weekly capacity and the holiday pause."""
    p = _own(session, actor)
    if not 0 <= weekly_capacity <= MAX_CAPACITY:
        raise ValidationError(t("profile.capacity", max=MAX_CAPACITY), field="weekly_capacity")
    p.postal_code = validation.postal_code(postal_code)
    p.email = validation.email(email, required=True)
    p.iban = validation.iban(iban) if iban.strip() else ""
    p.street = " ".join(street.split())[:200]
    p.city = " ".join(city.split())[:100]
    p.phone = phone.strip()[:50]
    p.weekly_capacity = weekly_capacity
    p.paused = paused
