"""Documents asked of the client on SQLite and PostgreSQL (§4 review, §8 "document missing"): a missing-document
task mails the client the upload link once; intake asks for all its missing documents in one mail; a clerk's
request; what is never asked of the client; and the mail as the SMTP server receives it."""

import re
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from core import intake, tasks
from core.cases import change_status, get_case
from core.enums import CaseStatus, DocumentKind, Role
from core.errors import ValidationError
from core.i18n import label, t
from core.mailer import transport_for
from core.permissions import Actor
from core.settings import SmtpSettings
from core.worker import run_worker
from db.engine import unit_of_work
from db.models import Case, OutboxMessage, Person, Task
from tests.factories import make_case, make_user
from tests.mailserver import SmtpServer

CLIENT_MAIL = "erika@example.org"
STAFF = Actor(user_id=None, username="s", display_name="S", role=Role.STAFF)
K = DocumentKind


@pytest.fixture
def clerk(engine) -> Actor:
    uid = make_user(engine, "clara", Role.STAFF)
    return Actor(user_id=uid, username="clara", display_name="Clara", role=Role.STAFF)


@pytest.fixture
def number(engine) -> str:
    number = make_case(engine)
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        s.get(Person, case.client_id).email = CLIENT_MAIL
    return number


def client_mails(engine) -> list[OutboxMessage]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == CLIENT_MAIL)
                              .order_by(OutboxMessage.id)))


def case_id(engine, number) -> int:
    with unit_of_work(engine) as s:
        return s.scalar(select(Case.id).where(Case.number == number))


def add_document_task(engine, number, kind: DocumentKind, **kwargs) -> int:
    with unit_of_work(engine) as s:
        case = get_case(s, number=number)
        return tasks.create_task(s, actor=STAFF, case=case, title="Dokument fehlt", kind=f"document:{kind}",
                                 **kwargs).id


def test_a_missing_document_task_mails_the_client_the_upload_link(engine, number):
    task_id = add_document_task(engine, number, K.REGISTRATION)
    [mail] = client_mails(engine)
    assert mail.template_key == "document_requested"
    assert mail.idempotency_key == f"client-documents:{case_id(engine, number)}:task:{task_id}"
    assert f"brauchen wir noch: {label(K.REGISTRATION)}." in mail.body
    assert "{client_link:status:" in mail.body and "Versicherung" not in mail.body


def test_each_task_gets_its_own_mail(engine, number):
    add_document_task(engine, number, K.REGISTRATION)
    add_document_task(engine, number, K.PHOTO)
    assert [label(K.REGISTRATION) in m.body for m in client_mails(engine)] == [True, False]
    assert label(K.PHOTO) in client_mails(engine)[1].body


def test_a_task_created_without_notice_mails_nobody(engine, number):
    add_document_task(engine, number, K.REGISTRATION, notify_client=False)
    assert client_mails(engine) == []


@pytest.mark.parametrize("kind", [K.LETTER, K.CLAIM_LETTER])
def test_an_internal_document_is_never_asked_of_the_client(engine, number, kind):
    add_document_task(engine, number, kind)
    assert client_mails(engine) == []


def test_a_client_without_address_gets_no_mail_and_the_task_stays(engine, number):
    with unit_of_work(engine) as s:
        s.get(Person, get_case(s, number=number).client_id).email = ""
    add_document_task(engine, number, K.REGISTRATION)
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert s.scalar(select(func.count()).select_from(Task)) == 1


# --- intake: one mail for all missing documents --------------------------------------------------


def take_in(engine, settings, clerk, **overrides) -> str:
    fields = {"damage_type": "glass", "insurer": "HUK-COBURG", "client_last_name": "Muster",
              "client_first_name": "Erika", "client_postal_code": "10115", "client_email": CLIENT_MAIL,
              "plate": "B-AB 1234", "incident_date": date.today() - timedelta(days=2), **overrides}
    with unit_of_work(engine) as s:
        return intake.take_in_case(s, actor=clerk, settings=settings, form=intake.IntakeForm(**fields)).number


def test_intake_asks_for_all_missing_documents_in_one_mail(engine, settings, clerk):
    number = take_in(engine, settings, clerk)
    [mail] = client_mails(engine)
    listed = ", ".join(label(k) for k in (K.REGISTRATION, K.INVOICE, K.PHOTO, K.ASSIGNMENT))
    assert (mail.template_key, mail.idempotency_key) == ("document_requested",
                                                         f"client-documents:{case_id(engine, number)}:intake")
    assert f"brauchen wir noch: {listed}." in mail.body and "{client_link:status:" in mail.body
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(Task).where(Task.kind.startswith("document:"))) == 4


def test_intake_without_client_address_queues_no_mail(engine, settings, clerk):
    take_in(engine, settings, clerk, client_email="", client_phone="030 123456")
    assert client_mails(engine) == []


# --- a clerk asks ----------------------------------------------------------------------------


def test_a_clerks_request_creates_the_task_and_the_mail_once(engine, number, clerk):
    for _ in range(2):  # a double click
        with unit_of_work(engine) as s:
            tasks.request_document(s, actor=clerk, number=number, kind=K.POWER_OF_ATTORNEY)
    [mail] = client_mails(engine)
    assert label(K.POWER_OF_ATTORNEY) in mail.body
    with unit_of_work(engine) as s:
        [task] = s.scalars(select(Task).where(Task.kind == "document:power_of_attorney")).all()
    assert task.title == t("intake.task_missing_doc", doc=label(K.POWER_OF_ATTORNEY))


def test_a_request_on_a_closed_case_is_refused_and_leaves_nothing(engine, number, clerk):
    with unit_of_work(engine) as s:
        change_status(s, actor=clerk, number=number, to=CaseStatus.CANCELLED, reason="Doppelt erfasst")
    before = len(client_mails(engine))
    with pytest.raises(ValidationError, match=t("task.case_not_open")), unit_of_work(engine) as s:
        tasks.request_document(s, actor=clerk, number=number, kind=K.REGISTRATION)
    assert len(client_mails(engine)) == before
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(Task)) == 0


def test_a_request_for_an_unknown_kind_is_refused(engine, number, clerk):
    with pytest.raises(ValidationError, match=t("task.bad_document_kind")), unit_of_work(engine) as s:
        tasks.request_document(s, actor=clerk, number=number, kind="steuerbescheid")


def test_the_sent_mail_carries_a_working_status_link(engine, settings, number):
    add_document_task(engine, number, K.REGISTRATION)
    server = SmtpServer()
    server.start()
    try:
        mail_settings = replace(settings, smtp=SmtpSettings(host="127.0.0.1", port=server.port, security="none",
                                                            sender="Schadenportal <noreply@schadenportal.example>"))
        run_worker(engine, mail_settings, once=True, transport=transport_for(mail_settings))
        [(recipients, mail)] = server.received
    finally:
        server.stop()
    assert recipients == [CLIENT_MAIL] and mail["Subject"] == f"Ihr Schaden {number}: Bitte Unterlagen hochladen"
    assert re.search(r"https?://\S+/status\?t=\S+", mail.get_content())
