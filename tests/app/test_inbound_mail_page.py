"""Posteingang: held insurer mail listed with why it was held, assigned to a case by number, dismissed with a
reason; an unknown number gets the refusal that reveals nothing; the empty list says what it means."""

import uuid
from email.message import EmailMessage

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.enums import Role
from core.i18n import label, t
from core.inbound_mail import process_message
from core.permissions import Actor
from core.settings import ROOT
from core.ui.navigation import ACTOR_KEY
from db.engine import unit_of_work
from db.models import AccessLog, HoldReason, InboundMail, InboundMailStatus, Insurer
from tests.app.conftest import TIMEOUT, table_text, texts
from tests.unit.test_upload_validation import make_pdf

PAGE = "pages/staff_inbound_mail.py"
INSURER = "schaden@huk-coburg.example"


def deliver(world, subject: str, *, sender: str = INSURER, attachments=()) -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"], msg["Message-ID"] = sender, subject, f"<{uuid.uuid4().hex}@test>"
    msg.set_content("Sehr geehrte Damen und Herren,\nanbei unser Schreiben.")
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    with unit_of_work(world.engine) as s:
        process_message(s, settings=world.settings, raw=msg.as_bytes())


def page(world, role=Role.STAFF) -> AppTest:
    at = world.app(role, page=PAGE)
    assert not at.exception, at.exception
    return at


def click(at: AppTest, label_key: str) -> AppTest:
    next(b for b in at.button if b.label == t(label_key)).click()
    at.run()
    assert not at.exception, at.exception
    return at


def status(world) -> list[InboundMailStatus]:
    with unit_of_work(world.engine) as s:
        return list(s.scalars(select(InboundMail.status).order_by(InboundMail.id)))


def test_the_empty_list_says_what_it_means(world):
    assert t("inmail.empty") in texts(page(world))


def test_a_held_mail_is_listed_with_sender_reason_and_the_refused_attachment(world):
    deliver(world, "Allgemeine Anfrage", sender="jemand@example.net",
            attachments=[("Brief.pdf", make_pdf("Brief")), ("leer.pdf", b"")])
    at = page(world)
    table = table_text(at)
    assert "jemand@example.net" in table and "Allgemeine Anfrage" in table and "Brief.pdf" in table
    assert label(HoldReason.NO_MATCH) in table
    assert t("inmail.rejected_note", note=f"leer.pdf: {t('doc.empty')}") in texts(at)


def test_staff_assign_a_held_mail_to_a_case_by_its_number(world):
    deliver(world, "Ohne Nummer", attachments=[("Brief.pdf", make_pdf("Brief"))])
    at = page(world)
    at.text_input[0].input(world.own_case.lower())
    at = click(at, "inmail.assign")
    assert t("inmail.assigned", number=world.own_case) in texts(at)
    assert t("inmail.empty") in texts(at)
    assert status(world) == [InboundMailStatus.ASSIGNED]


def test_an_unknown_case_number_is_refused_without_revealing_anything(world):
    deliver(world, "Ohne Nummer")
    at = page(world)
    at.text_input[0].input("SP-1999-999999")
    at = click(at, "inmail.assign")
    assert [e.value for e in at.error] == [t("case.refused")]
    assert status(world) == [InboundMailStatus.UNASSIGNED]


def test_dismissing_needs_a_reason_and_removes_the_mail_from_the_list(world):
    deliver(world, "Werbung für Reifen")
    at = click(page(world), "inmail.dismiss")
    assert [e.value for e in at.error] == [t("inmail.reason_required")]
    at.text_input[1].input("Werbung")
    at = click(at, "inmail.dismiss")
    assert t("inmail.dismissed") in texts(at)
    assert status(world) == [InboundMailStatus.DISMISSED]


def test_automatically_filed_mail_is_listed_under_recently_filed_with_a_link_to_the_case(world):
    with unit_of_work(world.engine) as s:
        s.scalar(select(Insurer).where(Insurer.name == "HUK-COBURG")).email = INSURER
    deliver(world, f"Ihr Schreiben {world.own_case}")
    at = page(world)
    assert f"/case?nr={world.own_case}" in table_text(at)
    assert t("inmail.system") in table_text(at)
    assert t("inmail.empty") in texts(at)


def mail_list_log(world) -> list[tuple[str, str]]:
    with unit_of_work(world.engine) as s:
        return [(r.object_ref, r.detail) for r in s.scalars(
            select(AccessLog).where(AccessLog.object_type == "inbound_mail").order_by(AccessLog.id))]


def test_the_lists_shown_are_logged_once_and_again_when_other_mails_are_shown(world):
    at = page(world)
    assert mail_list_log(world) == []  # nothing shown, nothing logged
    deliver(world, "Ohne Nummer")
    at.run()
    at.run()  # a rerun showing the same mails writes nothing more
    with unit_of_work(world.engine) as s:
        first = s.scalar(select(InboundMail.id))
    assert mail_list_log(world) == [("unassigned", f"1: {first}")]
    at.text_input[0].input(world.own_case)
    click(at, "inmail.assign")  # now the held list is empty and the filed list shows the mail
    deliver(world, "Noch eine")
    at.run()
    with unit_of_work(world.engine) as s:
        second = s.scalar(select(func.max(InboundMail.id)))
    assert mail_list_log(world) == [("unassigned", f"1: {first}"), ("filed", f"1: {first}"),
                                    ("unassigned", f"1: {second}"), ("filed", f"1: {first}")]


def test_a_partner_reaching_the_page_is_refused(world):
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=TIMEOUT)
    at.session_state[ACTOR_KEY] = Actor(user_id=world.users[Role.PARTNER], username="x", display_name="x",
                                        role=Role.PARTNER, partner_id=world.partner_id)
    at.run()
    assert [e.value for e in at.error] == [t("app.refused")]
