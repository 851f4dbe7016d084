"""Intake on SQLite and PostgreSQL: validation, duplicates, clerk, checklist tasks, photos, brokers."""

from datetime import date, timedelta
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import func, select

from core import intake
from core.enums import DocumentKind, Role
from core.errors import PermissionDenied, ValidationError
from core.i18n import t
from core.permissions import Actor
from db.engine import unit_of_work
from db.models import Case, Document, Person, Task
from tests.factories import make_broker, make_user

TODAY = date.today()


def form(**overrides) -> intake.IntakeForm:
    base = dict(damage_type="glass", insurer="HUK-COBURG", client_last_name="Muster", client_first_name="Erika",
                client_postal_code="10115", client_email="erika@example.org", plate="b ab 1234",
                vin="WVWZZZ1JZXW000001", incident_date=TODAY - timedelta(days=2),
                insurer_claim_number="HUK-4711", amount_claimed="1.234,50")
    return intake.IntakeForm(**{**base, **overrides})


def jpeg() -> bytes:
    buf = BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture
def clerk(engine) -> Actor:
    uid = make_user(engine, "clara", Role.STAFF)
    return Actor(user_id=uid, username="clara", display_name="Clara", role=Role.STAFF)


def take_in(engine, settings, actor, f, photos=None):
    with unit_of_work(engine) as s:
        return intake.take_in_case(s, actor=actor, settings=settings, form=f, photos=photos)


def test_every_bad_field_is_reported_at_once():
    bad = form(client_last_name=" ", client_postal_code="123", client_email="x@", plate="XYZ",
               vin="SHORT", incident_date=TODAY + timedelta(days=1), amount_claimed="-5", damage_type="")
    with pytest.raises(intake.FieldErrors) as exc:
        intake.validate_intake(bad, today=TODAY)
    assert set(exc.value.errors) == {"client_last_name", "client_postal_code", "client_email", "plate", "vin",
                                     "incident_date", "amount_claimed", "damage_type"}


def test_contact_is_required():
    with pytest.raises(intake.FieldErrors) as exc:
        intake.validate_intake(form(client_email="", client_phone=""), today=TODAY)
    assert "client_email" in exc.value.errors


def test_texts_longer_than_their_columns_are_refused_before_any_write():
    with pytest.raises(intake.FieldErrors) as exc:
        intake.validate_intake(form(client_last_name="M" * 101, client_first_name="E" * 101, client_city="B" * 101),
                               today=TODAY)
    assert set(exc.value.errors) == {"client_last_name", "client_first_name", "client_city"}


def test_a_nul_character_is_refused_with_a_message():
    with pytest.raises(intake.FieldErrors) as exc:
        intake.validate_intake(form(incident_description="Scheibe\x00kaputt"), today=TODAY)
    assert exc.value.errors == {"incident_description": t("intake.control_character")}


def test_intake_opens_case_with_clerk_tasks_and_normalised_fields(engine, settings, clerk):
    result = take_in(engine, settings, clerk, form())
    assert result.clerk == "Clara"
    assert result.missing_documents == [DocumentKind.REGISTRATION, DocumentKind.ASSIGNMENT, DocumentKind.INVOICE,
                                        DocumentKind.PHOTO]
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == result.number))
        tasks = s.scalars(select(Task.title).where(Task.case_id == case.id)).all()
        assert case.plate == "B-AB 1234" and case.amount_claimed_cents == 123450 and case.clerk_id == clerk.user_id
    assert sorted(tasks) == ["Dokument fehlt: Abtretungserklärung", "Dokument fehlt: Fahrzeugschein",
                             "Dokument fehlt: Foto", "Dokument fehlt: Rechnung",
                             "Kein Partnerbetrieb verfügbar – bitte manuell zuweisen"]  # no partner in this test


def test_intake_assigns_the_fairest_partner(engine, settings, clerk):
    from tests.factories import make_partner

    glass = make_partner(engine, "Autoglas Mitte")  # serves regions 10 and 20
    result = take_in(engine, settings, clerk, form())
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == result.number))
        titles = s.scalars(select(Task.title).where(Task.case_id == case.id)).all()
    assert case.partner_id == glass
    assert not [x for x in titles if x.startswith("Kein Partnerbetrieb")]


def test_photo_is_stored_and_its_task_not_created(engine, settings, clerk):
    result = take_in(engine, settings, clerk, form(), photos=[intake.Photo("schaden.jpg", jpeg())])
    assert DocumentKind.PHOTO not in result.missing_documents
    with unit_of_work(engine) as s:
        kinds = s.scalars(select(Document.kind).join(Case).where(Case.number == result.number)).all()
    assert kinds == [DocumentKind.PHOTO]


def test_a_bad_photo_refuses_the_whole_intake(engine, settings, clerk):
    with pytest.raises(ValidationError):
        take_in(engine, settings, clerk, form(), photos=[intake.Photo("virus.jpg", b"MZ\x90\x00" + b"\x00" * 100)])
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
        assert s.scalar(select(func.count()).select_from(Person)) == 0
    docs_dir = settings.data_dir / "documents"
    assert not docs_dir.exists() or not any(docs_dir.iterdir())


def test_least_loaded_clerk_gets_the_case(engine, settings, clerk):
    other = make_user(engine, "otto", Role.LAWYER)
    first = take_in(engine, settings, clerk, form(insurer_claim_number="A1", plate="B-AB 1"))
    second = take_in(engine, settings, clerk, form(insurer_claim_number="A2", plate="B-AB 2"))
    assert {first.clerk, second.clerk} == {"Clara", "Otto"} and other


def test_duplicates_by_plate_and_date_and_by_claim_number(engine, settings, clerk):
    number = take_in(engine, settings, clerk, form()).number
    with unit_of_work(engine) as s:
        by_plate = intake.find_duplicates(s, actor=clerk, plate="B-AB 1234", incident_date=TODAY - timedelta(days=2),
                                          insurer_claim_number="")
        by_claim = intake.find_duplicates(s, actor=clerk, plate="", incident_date=None, insurer_claim_number="HUK-4711")
        none = intake.find_duplicates(s, actor=clerk, plate="B-AB 1234", incident_date=TODAY,
                                      insurer_claim_number="")
    assert [h.number for h in by_plate] == [number] and [h.number for h in by_claim] == [number]
    assert none == []


def test_broker_submits_for_own_agency_only(engine, settings, clerk):
    b1, b2 = make_broker(engine, "B1"), make_broker(engine, "B2")
    broker = Actor(user_id=make_user(engine, "makler", Role.BROKER, broker_id=b1), username="makler",
                   display_name="Makler", role=Role.BROKER, broker_id=b1)
    number = take_in(engine, settings, broker, form(broker_id=b2)).number  # the form's choice is overridden
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        assert case.broker_id == b1 and case.source == "broker"
        hits = intake.find_duplicates(s, actor=Actor(user_id=None, username="x", display_name="x",
                                                     role=Role.BROKER, broker_id=b2),
                                      plate="", incident_date=None, insurer_claim_number="HUK-4711")
    assert hits == []  # another broker learns nothing about it


def test_manager_cannot_take_in(engine, settings):
    manager = Actor(user_id=None, username="m", display_name="M", role=Role.MANAGER)
    with pytest.raises(PermissionDenied):
        take_in(engine, settings, manager, form())


def test_task_assignee_must_be_back_office(engine, settings, clerk):
    from core import tasks
    from tests.factories import make_partner

    number = take_in(engine, settings, clerk, form()).number
    partner_login = make_user(engine, "glas", Role.PARTNER, partner_id=make_partner(engine))
    with pytest.raises(ValidationError, match="Sachbearbeitung"):
        with unit_of_work(engine) as s:
            tasks.add_task(s, actor=clerk, number=number, title="x", assignee_id=partner_login)
