"""Every status change queues the fitting mail to the client, with its status (or survey) link marker."""


from sqlalchemy import select

from core import correspondence
from core.cases import change_status
from core.enums import CaseStatus, Role
from core.permissions import Actor
from core.timeutil import now, to_berlin
from db.engine import unit_of_work
from db.models import Case, OutboxMessage, Person
from tests.factories import make_case

STAFF = Actor(user_id=None, username="s", display_name="S", role=Role.STAFF)


def with_email(engine, number, email="erika@example.org"):
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        s.get(Person, case.client_id).email = email


def mails(engine) -> list[tuple[str, str]]:
    with unit_of_work(engine) as s:
        return [(m.template_key, m.body) for m in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_the_lifecycle_mails_the_client(engine):
    number = make_case(engine)
    with_email(engine, number)
    with unit_of_work(engine) as s:
        change_status(s, actor=STAFF, number=number, to=CaseStatus.REVIEW)
        change_status(s, actor=STAFF, number=number, to=CaseStatus.CLAIM_SENT)
        correspondence.record_insurer_query(s, actor=STAFF, number=number, subject="Foto der Scheibe")
        change_status(s, actor=STAFF, number=number, to=CaseStatus.CLAIM_SENT)
        correspondence.record_payment(s, actor=STAFF, number=number, amount_paid_cents=40_000, paid_on=to_berlin(now()).date())
        change_status(s, actor=STAFF, number=number, to=CaseStatus.CLOSED)
    sent = mails(engine)
    assert [key for key, _ in sent] == ["status_update", "claim_letter_sent", "insurer_query", "claim_letter_sent",
                                        "payment_received", "survey_invitation"]
    assert "{client_link:status:" in sent[0][1]
    assert "Foto der Scheibe" in sent[2][1]
    assert "{client_link:survey:" in sent[-1][1]


def test_a_client_without_email_gets_no_mail(engine):
    number = make_case(engine)
    with_email(engine, number, "")
    with unit_of_work(engine) as s:
        change_status(s, actor=STAFF, number=number, to=CaseStatus.REVIEW)
    assert mails(engine) == []
