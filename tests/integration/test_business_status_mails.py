"""Status mails to the broker and the partner on SQLite and PostgreSQL (§8 "to the right people"): which changes
each hears of, what the mail says (and never says), a missing or broken address, and the daily digest instead of
single mails for a login that chose it."""

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from core import correspondence
from core.cases import change_status
from core.digest import send_daily_digests
from core.enums import CaseStatus, NoteVisibility, Role
from core.i18n import t
from core.notes import add_note
from core.permissions import Actor
from core.timeutil import BERLIN, now, to_berlin
from db.engine import unit_of_work
from db.models import Broker, Case, OutboxMessage, Partner, User
from tests.factories import make_broker, make_case, make_partner, make_user

STAFF = Actor(user_id=None, username="s", display_name="S", role=Role.STAFF)
S = CaseStatus
BROKER_MAIL, PARTNER_MAIL = "buero@makler.example", "info@autoglasnord.example"
PARTNER_NAME, BROKER_NAME = "Autoglas Nord", "Versicherungsbüro Test"
NOTE = "Vertraulich: Kunde droht mit Anwalt"


@pytest.fixture
def number(engine) -> str:
    """A case of a broker and a partner that both have an e-mail address."""
    broker = make_broker(engine, BROKER_NAME)
    with unit_of_work(engine) as s:
        s.get(Broker, broker).email = BROKER_MAIL
    partner = make_partner(engine, PARTNER_NAME, email=PARTNER_MAIL)
    return make_case(engine, partner_id=partner, broker_id=broker)


def move(engine, number, *steps, at: datetime | None = None) -> None:
    with unit_of_work(engine) as s:
        for to in steps:
            kwargs = {"amount_paid_cents": 40_000} if to == S.PAID else {}
            if to == S.CANCELLED or (to == S.CLOSED and kwargs == {} and _status(s, number) != S.PAID):
                kwargs["reason"] = "Versicherung lehnt ab"
            change_status(s, actor=STAFF, number=number, to=to, at=at, **kwargs)


def _status(s, number) -> CaseStatus:
    return s.scalar(select(Case.status).where(Case.number == number))


def mails_to(engine, address: str) -> list[OutboxMessage]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == address)
                              .order_by(OutboxMessage.id)))


def statuses(engine, address: str) -> list[str]:
    """The status named in the subject of each mail to `address`."""
    return [m.subject.rsplit(": ", 1)[1] for m in mails_to(engine, address)]


def test_the_claim_going_out_mails_broker_and_partner_with_the_case_link(engine, number):
    move(engine, number, S.REVIEW, S.CLAIM_SENT)
    [to_broker], [to_partner] = mails_to(engine, BROKER_MAIL), mails_to(engine, PARTNER_MAIL)
    assert (to_broker.template_key, to_partner.template_key) == ("status_update_broker", "status_update_partner")
    for mail, who in ((to_broker, "broker"), (to_partner, "partner")):
        assert t(f"statusmail.{who}_claim_sent") in mail.body and t(f"statusmail.{who}_claim_sent_next") in mail.body
        assert "{base_url}/case?nr=" + number in mail.body
    assert to_broker.body.startswith(f"Guten Tag {BROKER_NAME},") and to_partner.subject == \
        f"Auftrag {number}: Forderung versendet"


def test_the_broker_hears_of_every_change_after_review(engine, number):
    move(engine, number, S.REVIEW, S.CLAIM_SENT)
    with unit_of_work(engine) as s:
        query = correspondence.record_insurer_query(s, actor=STAFF, number=number, subject="Foto der Scheibe")
        correspondence.answer_insurer_query(s, actor=STAFF, number=number, query_id=query.id)
    move(engine, number, S.PAID, S.CLOSED)
    assert statuses(engine, BROKER_MAIL) == ["Forderung versendet", "Rückfrage", "Forderung versendet",
                                             "Zahlung eingegangen", "Abgeschlossen"]
    assert t("statusmail.broker_query_answered") in mails_to(engine, BROKER_MAIL)[2].body


def test_the_partner_hears_only_of_claim_payment_and_close(engine, number):
    move(engine, number, S.REVIEW, S.CLAIM_SENT)
    with unit_of_work(engine) as s:
        query = correspondence.record_insurer_query(s, actor=STAFF, number=number, subject="Foto der Scheibe")
        correspondence.answer_insurer_query(s, actor=STAFF, number=number, query_id=query.id)
    move(engine, number, S.PAID, S.CLOSED)
    assert statuses(engine, PARTNER_MAIL) == ["Forderung versendet", "Zahlung eingegangen", "Abgeschlossen"]


def test_a_cancellation_tells_the_partner_to_stop(engine, number):
    move(engine, number, S.CANCELLED)
    [mail] = mails_to(engine, PARTNER_MAIL)
    assert t("statusmail.partner_cancelled_next") in mail.body
    assert statuses(engine, BROKER_MAIL) == ["Storniert"]


def test_a_refusal_is_told_as_refusal(engine, number):
    move(engine, number, S.REVIEW, S.CLAIM_SENT, S.CLOSED)
    assert t("statusmail.partner_refused") in mails_to(engine, PARTNER_MAIL)[-1].body
    assert t("statusmail.broker_refused") in mails_to(engine, BROKER_MAIL)[-1].body


def test_the_mails_tell_no_amounts_notes_reasons_or_the_other_party(engine, number):
    with unit_of_work(engine) as s:
        add_note(s, actor=STAFF, number=number, visibility=NoteVisibility.INTERNAL, body=NOTE)
    move(engine, number, S.REVIEW, S.CLAIM_SENT, S.PAID, S.CLOSED)
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        partner_id, broker_id = case.partner_id, case.broker_id
    move(engine, make_case(engine, partner_id=partner_id, broker_id=broker_id), S.CANCELLED)
    for mail in mails_to(engine, PARTNER_MAIL) + mails_to(engine, BROKER_MAIL):
        text = mail.subject + mail.body
        for secret in (NOTE, "400,00", "500,00", "Versicherung lehnt ab"):
            assert secret not in text
    assert all(BROKER_NAME not in m.body for m in mails_to(engine, PARTNER_MAIL))
    assert all(PARTNER_NAME not in m.body for m in mails_to(engine, BROKER_MAIL))


def test_the_review_step_mails_neither(engine, number):
    move(engine, number, S.REVIEW)
    assert mails_to(engine, BROKER_MAIL) + mails_to(engine, PARTNER_MAIL) == []


def test_a_broker_or_partner_without_address_gets_nothing(engine):
    number = make_case(engine, partner_id=make_partner(engine, email=""), broker_id=make_broker(engine))
    move(engine, number, S.CANCELLED)
    with unit_of_work(engine) as s:
        assert s.scalars(select(OutboxMessage.template_key)).all() == []


def test_a_broken_stored_address_is_skipped_and_the_change_goes_through(engine, number):
    with unit_of_work(engine) as s:
        s.scalar(select(Partner)).email = "kein-at-zeichen"
    move(engine, number, S.CANCELLED)
    with unit_of_work(engine) as s:
        assert _status(s, number) == S.CANCELLED
        assert s.scalars(select(OutboxMessage.recipient)).all() == [BROKER_MAIL]


# --- the digest instead of single mails ---------------------------------------------------------


def berlin(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=BERLIN)


def partner_login(engine, *, email: str = PARTNER_MAIL, digest: bool = True) -> int:
    with unit_of_work(engine) as s:
        partner_id = s.scalar(select(Partner.id))
    user_id = make_user(engine, "glas1", Role.PARTNER, partner_id=partner_id)
    with unit_of_work(engine) as s:
        user = s.get(User, user_id)
        user.email, user.digest_mode = email, digest
    return user_id


def digest(engine, at: datetime) -> int:
    with unit_of_work(engine) as s:
        return send_daily_digests(s, at=at)


def test_a_login_with_the_digest_gets_no_single_mail_but_the_change_in_the_next_days_digest(engine, number):
    today = to_berlin(now()).date()
    partner_login(engine)
    move(engine, number, S.REVIEW, S.CLAIM_SENT, at=berlin(today, 10))
    assert [m.template_key for m in mails_to(engine, PARTNER_MAIL)] == []
    assert digest(engine, berlin(today + timedelta(days=1), 8)) == 1
    [mail] = mails_to(engine, PARTNER_MAIL)
    assert mail.template_key == "digest" and "1 Meldungen" in mail.subject
    assert f"{t('digest.section_changes')}\n- {number}: {t('statusmail.partner_claim_sent')}" in mail.body
    assert t("digest.section_due") not in mail.body
    assert [m.template_key for m in mails_to(engine, BROKER_MAIL)] == ["status_update_broker"]


def test_a_change_is_listed_only_in_the_digest_of_the_day_after(engine, number):
    today = to_berlin(now()).date()
    partner_login(engine)
    move(engine, number, S.REVIEW, S.CLAIM_SENT, at=berlin(today, 10))
    assert digest(engine, berlin(today, 12)) == 0
    assert digest(engine, berlin(today + timedelta(days=2), 8)) == 0


def test_a_change_mailed_before_the_digest_was_chosen_is_not_repeated(engine, number):
    today = to_berlin(now()).date()
    user = partner_login(engine, digest=False)
    move(engine, number, S.REVIEW, S.CLAIM_SENT, at=berlin(today, 10))
    with unit_of_work(engine) as s:
        s.get(User, user).digest_mode = True
    assert digest(engine, berlin(today + timedelta(days=1), 8)) == 0
    assert [m.template_key for m in mails_to(engine, PARTNER_MAIL)] == ["status_update_partner"]


def test_a_digest_login_with_another_address_leaves_the_business_its_single_mail(engine, number):
    today = to_berlin(now()).date()
    partner_login(engine, email="nele@autoglasnord.example")
    move(engine, number, S.REVIEW, S.CLAIM_SENT, at=berlin(today, 10))
    assert [m.template_key for m in mails_to(engine, PARTNER_MAIL)] == ["status_update_partner"]
    assert digest(engine, berlin(today + timedelta(days=1), 8)) == 0
