"""Small helpers that create real rows through the core services (no mocks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from core.cases import NewCase, create_case
from core.enums import DamageType, PartnerKind, Role
from core.permissions import SYSTEM, Actor
from core.users import create_user
from db.engine import unit_of_work
from db.models import Broker, Partner

PASSWORD = "geheim-1234"


def make_user(engine: Engine, username: str, role: Role, *, password: str = PASSWORD, **links) -> int:
    with unit_of_work(engine) as s:
        return create_user(
            s, actor=SYSTEM, username=username, display_name=username.title(), email=f"{username}@example.org",
            role=role, password=password, **links,
        ).id


def make_partner(
    engine: Engine, name: str = "Autoglas Nord", kind: PartnerKind = PartnerKind.GLASS, *, email: str | None = None,
    commission_bp: int = 0,
) -> int:
    with unit_of_work(engine) as s:
        address = email if email is not None else "info@" + "".join(c for c in name.lower() if c.isalnum()) + ".example"
        p = Partner(name=name, kind=kind, regions="10,20", email=address, commission_bp=commission_bp,
                    street="Hauptstraße 1", postal_code="10115", city="Berlin")
        s.add(p)
        s.flush()
        return p.id


def make_broker(engine: Engine, name: str = "Versicherungsbüro Test") -> int:
    with unit_of_work(engine) as s:
        b = Broker(name=name)
        s.add(b)
        s.flush()
        return b.id


def make_case(
    engine: Engine, *, actor: Actor = SYSTEM, partner_id: int | None = None, broker_id: int | None = None,
    received_at: datetime | None = None, last_name: str = "Muster", amount_claimed_cents: int | None = 50_000,
) -> str:
    with unit_of_work(engine) as s:
        case = create_case(
            s, actor=actor,
            data=NewCase(
                damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name=last_name,
                client_first_name="Erika", postal_code="10115", plate="B-AB 1234", broker_id=broker_id,
                received_at=received_at, amount_claimed_cents=amount_claimed_cents,
            ),
        )
        case.partner_id = partner_id
        return case.number


def make_order(engine: Engine, partner_id: int, *, accepted: bool = True, **case_args) -> str:
    """A case given to `partner_id` as a real assignment (accepted unless told otherwise)."""
    from core.timeutil import iso_week, now
    from db.models import Assignment, Case

    number = make_case(engine, partner_id=partner_id, **case_args)
    with unit_of_work(engine) as s:
        case = s.query(Case).filter_by(number=number).one()
        at = now()
        s.add(Assignment(case_id=case.id, partner_id=partner_id, iso_week=iso_week(at), origin="override",
                         reason="Test", candidates=[], assigned_at=at, accepted_at=at if accepted else None))
    return number
