"""The client's link on SQLite and PostgreSQL: status mail at intake, what the status shows (and does not), uploads
of requested documents, a new link on request, and the one survey answer of a closed case."""

from dataclasses import fields
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from core import client_portal, documents, intake
from core.cases import change_status
from core.client_links import LinkPurpose
from core.enums import CaseStatus, DocumentKind, NoteVisibility, PartnerKind, Role
from core.errors import ValidationError
from core.i18n import t
from core.notes import add_note
from core.outbox import complete_links
from core.permissions import SYSTEM, Actor
from core.timeutil import format_dt, to_berlin
from db.engine import unit_of_work
from db.models import (
    AccessLog,
    Case,
    CaseEvent,
    Document,
    DocumentVersion,
    OutboxMessage,
    Person,
    SurveyAnswer,
    Task,
)
from tests.factories import make_partner, make_user
from tests.unit.test_upload_validation import make_pdf

CLIENT_MAIL = "erika.muster@example.org"
PARTNER = "Autoglas Geheimname"
NOTE = "Interne Notiz: Kunde war am Telefon unfreundlich"
PDF = make_pdf("Fahrzeugschein", "B-AB 1234")


@pytest.fixture
def clerk(engine) -> Actor:
    uid = make_user(engine, "clara", Role.STAFF)
    return Actor(user_id=uid, username="clara", display_name="Clara", role=Role.STAFF)


def take_in(engine, settings, clerk, **overrides) -> str:
    base = dict(damage_type="glass", insurer="HUK-COBURG", client_last_name="Muster", client_first_name="Erika",
                client_postal_code="10115", client_email=CLIENT_MAIL, plate="B-AB 1234",
                incident_date=date.today() - timedelta(days=2), amount_claimed="1.234,50")
    with unit_of_work(engine) as s:
        return intake.take_in_case(s, actor=clerk, settings=settings,
                                   form=intake.IntakeForm(**{**base, **overrides})).number


@pytest.fixture
def number(engine, settings, clerk) -> str:
    make_partner(engine, PARTNER, PartnerKind.GLASS)
    number = take_in(engine, settings, clerk)
    with unit_of_work(engine) as s:
        add_note(s, actor=clerk, number=number, visibility=NoteVisibility.INTERNAL, body=NOTE)
    return number


def client_mails(engine) -> list[OutboxMessage]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == CLIENT_MAIL)
                              .order_by(OutboxMessage.id)))


def token_from(body: str, settings, path: str = "status") -> str:
    [url] = [word for word in complete_links(body, settings).split() if f"/{path}?t=" in word]
    return parse_qs(urlsplit(url).query)["t"][0]


def status_token(engine, settings) -> str:
    return token_from(client_mails(engine)[0].body, settings)


def client(engine, settings, token: str, purpose=LinkPurpose.STATUS) -> Actor | None:
    with unit_of_work(engine) as s:
        return client_portal.client_actor_for(s, settings=settings, token=token, purpose=purpose)


def status(engine, actor):
    with unit_of_work(engine) as s:
        return client_portal.client_status(s, actor=actor)


def upload(engine, settings, actor, kind=DocumentKind.REGISTRATION, data=PDF, filename="schein.pdf"):
    with unit_of_work(engine) as s:
        return client_portal.upload_requested_document(s, actor=actor, settings=settings, kind=kind,
                                                       filename=filename, data=data)


def close(engine, number):
    with unit_of_work(engine) as s:
        for to in (CaseStatus.REVIEW, CaseStatus.CLAIM_SENT):
            change_status(s, actor=SYSTEM, number=number, to=to)
        change_status(s, actor=SYSTEM, number=number, to=CaseStatus.PAID, amount_paid_cents=100_000)
        change_status(s, actor=SYSTEM, number=number, to=CaseStatus.CLOSED)


def survey_actor(engine, number) -> Actor:
    with unit_of_work(engine) as s:
        case_id = s.scalar(select(Case.id).where(Case.number == number))
    return Actor(user_id=None, username="client", display_name="Mandant (Link)", role=Role.CLIENT, case_id=case_id)


def answer(engine, actor, score=9, comment=""):
    with unit_of_work(engine) as s:
        return client_portal.submit_survey(s, actor=actor, score=score, comment=comment)


# --- the link ---------------------------------------------------------------------------------


def test_intake_queues_one_status_mail_whose_link_opens_exactly_that_case(engine, settings, number):
    [mail] = client_mails(engine)
    assert "{client_link:status:" in mail.body and "?t=" not in mail.body  # no token in the database
    actor = client(engine, settings, token_from(mail.body, settings))
    with unit_of_work(engine) as s:
        case_id = s.scalar(select(Case.id).where(Case.number == number))
    assert (actor.role, actor.case_id, actor.user_id) == (Role.CLIENT, case_id, None)


def test_intake_without_an_email_address_queues_no_client_mail(engine, settings, clerk):
    take_in(engine, settings, clerk, client_email="", client_phone="030 123456")
    assert client_mails(engine) == []


def test_a_status_link_does_not_open_the_survey(engine, settings, number):
    assert client(engine, settings, status_token(engine, settings), LinkPurpose.SURVEY) is None


def test_a_new_client_address_revokes_the_links_sent_before(engine, settings, number):
    token = status_token(engine, settings)
    with unit_of_work(engine) as s:
        s.scalar(select(Person).join(Case, Case.client_id == Person.id).where(Case.number == number)).email = (
            "neu@example.org")
    assert client(engine, settings, token) is None


def test_a_refused_link_is_logged_without_the_token(engine, settings, number):
    assert client(engine, settings, "kaputt") is None
    with unit_of_work(engine) as s:
        [row] = s.scalars(select(AccessLog).where(AccessLog.object_type == "client_link")).all()
    assert (row.action, row.role, row.detail) == ("refused", "client", "invalid")


# --- the status -------------------------------------------------------------------------------


def test_the_status_shows_status_next_step_and_requested_documents_and_nothing_else(engine, settings, number):
    view = status(engine, client(engine, settings, status_token(engine, settings)))
    assert [f.name for f in fields(view)] == ["case_number", "status", "status_label", "what_happened",
                                              "next_step", "requested"]
    with unit_of_work(engine) as s:
        received = s.scalar(select(Case.received_at).where(Case.number == number))
    assert (view.case_number, view.status_label) == (number, "Eingang")
    assert view.what_happened == t("client.happened_received", date=to_berlin(received).strftime("%d.%m.%Y"))
    assert view.next_step.startswith(t("client.next_claim", due=format_dt(received + timedelta(hours=48))))
    assert [d.kind for d in view.requested] == [DocumentKind.REGISTRATION, DocumentKind.INVOICE,
                                                DocumentKind.PHOTO, DocumentKind.ASSIGNMENT]
    shown = repr(view)
    for secret in (NOTE, PARTNER, "HUK", "1.234,50", "123450", "B-AB", "Clara", CLIENT_MAIL):
        assert secret not in shown


def test_viewing_the_status_is_logged(engine, settings, number):
    status(engine, client(engine, settings, status_token(engine, settings)))
    with unit_of_work(engine) as s:
        [row] = s.scalars(select(AccessLog).where(AccessLog.detail == "client_status")).all()
    assert (row.action, row.object_ref, row.role, row.user_id) == ("view", number, "client", None)


def test_a_closed_case_asks_for_nothing(engine, settings, number):
    actor = client(engine, settings, status_token(engine, settings))
    close(engine, number)
    view = status(engine, actor)
    assert (view.status, view.requested, view.next_step) == (CaseStatus.CLOSED, (), t("client.next_nothing"))


# --- uploads ----------------------------------------------------------------------------------


def test_a_requested_document_is_stored_the_request_done_and_the_upload_logged(engine, settings, number):
    actor = client(engine, settings, status_token(engine, settings))
    version = upload(engine, settings, actor)
    with unit_of_work(engine) as s:
        staff_view = documents.list_documents(s, actor=SYSTEM, case_number=number)
        open_task = s.scalar(select(Task).where(Task.kind == "document:registration", Task.done_at.is_(None)))
        logged = s.scalar(select(AccessLog).where(AccessLog.action == "upload"))
    assert [(d.kind, d.latest.id, d.latest.uploaded_by) for d in staff_view] == [
        (DocumentKind.REGISTRATION, version.id, t("client.actor_name"))]
    assert open_task is None and (logged.object_ref, logged.role) == (str(version.id), "client")
    assert DocumentKind.REGISTRATION not in [d.kind for d in status(engine, actor).requested]


def test_a_kind_that_was_not_requested_is_refused(engine, settings, number):
    actor = client(engine, settings, status_token(engine, settings))
    with pytest.raises(ValidationError, match=t("client.not_requested")):
        upload(engine, settings, actor, kind=DocumentKind.REPORT)
    upload(engine, settings, actor)
    with pytest.raises(ValidationError, match=t("client.not_requested")):
        upload(engine, settings, actor)  # asked once, delivered once
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count(DocumentVersion.id))) == 1


def test_a_bad_file_is_refused_and_leaves_nothing(engine, settings, number):
    actor = client(engine, settings, status_token(engine, settings))
    with pytest.raises(ValidationError) as info:
        upload(engine, settings, actor, data=b"MZ\x90\x00" + b"\x00" * 100, filename="schein.pdf")
    assert info.value.field == "file"
    folder = documents.documents_dir(settings)
    assert not folder.exists() or list(folder.iterdir()) == []
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count(Document.id))) == 0
        assert s.scalar(select(func.count()).where(CaseEvent.action == "document_uploaded")) == 0
        assert s.scalar(select(Task.id).where(Task.kind == "document:registration", Task.done_at.is_(None)))


def test_a_closed_case_takes_no_uploads(engine, settings, number):
    actor = client(engine, settings, status_token(engine, settings))
    close(engine, number)
    with pytest.raises(ValidationError, match=t("client.not_requested")):
        upload(engine, settings, actor)


# --- a new link -------------------------------------------------------------------------------


def request(engine, number, email):
    with unit_of_work(engine) as s:
        client_portal.request_new_link(s, case_number=number, email=email)


def test_a_matching_request_queues_exactly_one_new_mail_however_often_sent(engine, settings, number):
    request(engine, number.lower(), " Erika.Muster@EXAMPLE.org ")
    request(engine, number, CLIENT_MAIL)
    intake_mail, fresh = client_mails(engine)
    assert client(engine, settings, token_from(fresh.body, settings)).case_id is not None


@pytest.mark.parametrize(("which", "email"), [("own", "jemand@example.org"), ("own", ""), ("unknown", CLIENT_MAIL)])
def test_a_request_that_does_not_match_queues_nothing(engine, settings, number, which, email):
    request(engine, number if which == "own" else "SP-1999-000001", email)
    assert len(client_mails(engine)) == 1  # the intake mail only
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).where(AccessLog.object_type == "client_link",
                                                   AccessLog.action == "refused")) == 1


# --- the survey -------------------------------------------------------------------------------


def test_the_survey_waits_for_the_case_to_be_closed(engine, settings, number):
    actor = survey_actor(engine, number)
    with pytest.raises(ValidationError, match=t("survey.not_closed")):
        answer(engine, actor)
    with unit_of_work(engine) as s:
        assert client_portal.survey_status(s, actor=actor) == client_portal.SurveyView(number, False, False)


def test_a_closed_case_takes_one_answer_and_refuses_a_second(engine, settings, number):
    close(engine, number)
    actor = survey_actor(engine, number)
    answer(engine, actor, score=10, comment="  Schnell und freundlich.  ")
    with pytest.raises(ValidationError, match=t("survey.already")):
        answer(engine, actor, score=0)
    with unit_of_work(engine) as s:
        [row] = s.scalars(select(SurveyAnswer)).all()
        assert client_portal.survey_status(s, actor=actor) == client_portal.SurveyView(number, True, True)
        event = s.scalar(select(CaseEvent).where(CaseEvent.action == "survey_answered"))
    assert (row.score, row.comment) == (10, "Schnell und freundlich.")
    assert (event.details, event.actor_role) == ({"score": 10}, "client")


@pytest.mark.parametrize(("score", "comment", "message"), [
    (11, "", t("survey.score_range")), (-1, "", t("survey.score_range")),
    (5, "x" * 1001, t("survey.comment_too_long", max=1000)),
])
def test_a_bad_answer_is_refused_and_nothing_is_stored(engine, settings, number, score, comment, message):
    close(engine, number)
    with pytest.raises(ValidationError, match=message):
        answer(engine, survey_actor(engine, number), score=score, comment=comment)
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count(SurveyAnswer.id))) == 0
