"""The client's public pages, logged out: the status link (valid, expired, tampered, uploads, a new link) and the
survey link (answer once, only when closed)."""

from datetime import timedelta

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.cases import change_status, get_case
from core.client_links import LinkPurpose, case_fingerprint, make_token
from core.enums import CaseStatus, NoteVisibility, Role
from core.i18n import label, t
from core.notes import add_note
from core.permissions import SYSTEM, Actor
from core.settings import ROOT
from core.tasks import create_task
from core.timeutil import now
from db.engine import unit_of_work
from db.models import AccessLog, DocumentVersion, SurveyAnswer
from tests.app.conftest import TIMEOUT, texts
from tests.unit.test_upload_validation import make_pdf

STATUS, SURVEY = "pages/public_status.py", "pages/public_survey.py"
NOTE = "Streng interne Notiz zum Mandanten"


def token(world, purpose=LinkPurpose.STATUS, *, number=None, at=None) -> str:
    with unit_of_work(world.engine) as s:
        case = get_case(s, number=number or world.own_case)
        return make_token(world.settings, case_id=case.id, fingerprint=case_fingerprint(case), purpose=purpose, at=at)


def tamper(tok: str) -> str:
    """One character of the signature changed (not the last one: its low bits carry no data)."""
    return tok[:-10] + ("A" if tok[-10] != "A" else "B") + tok[-9:]


def page(path: str, tok: str | None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if tok is not None:
        at.query_params["t"] = tok
    at.run()
    at.switch_page(path)
    at.run()
    return at


def click(at: AppTest, key: str) -> None:
    next(b for b in at.button if b.label == t(key)).click()
    at.run()


def request_registration(world) -> None:
    with unit_of_work(world.engine) as s:
        case = get_case(s, number=world.own_case)
        create_task(s, actor=SYSTEM, case=case, title="Fahrzeugschein fehlt", kind="document:registration",
                    due_at=now() + timedelta(hours=24))
        staff = Actor(user_id=world.users[Role.STAFF], username="t_staff", display_name="S", role=Role.STAFF)
        add_note(s, actor=staff, number=world.own_case, visibility=NoteVisibility.INTERNAL, body=NOTE)


def close_own_case(world) -> None:
    with unit_of_work(world.engine) as s:
        for to in (CaseStatus.REVIEW, CaseStatus.CLAIM_SENT):
            change_status(s, actor=SYSTEM, number=world.own_case, to=to)
        change_status(s, actor=SYSTEM, number=world.own_case, to=CaseStatus.PAID, amount_paid_cents=50_000)
        change_status(s, actor=SYSTEM, number=world.own_case, to=CaseStatus.CLOSED)


def versions(world) -> int:
    with unit_of_work(world.engine) as s:
        return s.scalar(select(func.count(DocumentVersion.id)))


# --- status -----------------------------------------------------------------------------------


def test_a_valid_link_shows_status_next_step_and_the_requested_document_only(world):
    request_registration(world)
    at = page(STATUS, token(world))
    assert not at.exception and not at.error
    shown = texts(at)
    assert t("client.case_number", number=world.own_case) in shown
    assert t("client.status", status=label(CaseStatus.RECEIVED)) in shown
    assert t("client.next_documents") in shown and "Fahrzeugschein" in shown
    for secret in (NOTE, "Autoglas Eins", "Büro Eins", "HUK", "500,00", world.foreign_case):
        assert secret not in shown
    assert len(at.file_uploader) == 1 and not at.text_input
    assert t("login.username") not in [w.label for w in at.text_input]


def test_the_client_uploads_the_requested_document_and_it_is_no_longer_asked_for(world):
    request_registration(world)
    at = page(STATUS, token(world))
    at.file_uploader[0].upload("schein.pdf", make_pdf("Fahrzeugschein"), "application/pdf")
    click(at, "client.upload")
    assert not at.exception and not at.error
    assert t("client.uploaded", name="Fahrzeugschein") in texts(at)
    assert not at.file_uploader and versions(world) == 1


def test_a_bad_file_shows_the_german_error_and_stores_nothing(world):
    request_registration(world)
    at = page(STATUS, token(world))
    at.file_uploader[0].upload("schein.pdf", b"MZ\x90\x00" + b"\x00" * 100, "application/pdf")
    click(at, "client.upload")
    assert not at.exception
    assert len(at.error) == 1 and len(at.file_uploader) == 1 and versions(world) == 0


def test_an_expired_link_says_so_and_offers_a_new_one(world):
    at = page(STATUS, token(world, at=now() - timedelta(days=31)))
    assert not at.exception
    assert [e.value for e in at.error] == [t("client.link_expired")]
    assert world.own_case not in texts(at)
    at.text_input[0].input(world.own_case)
    at.text_input[1].input("jemand@example.org")
    click(at, "client.new_link_submit")
    assert t("client.new_link_sent") in texts(at)


def test_a_tampered_link_says_it_is_invalid_and_is_logged(world):
    at = page(STATUS, tamper(token(world)))
    assert [e.value for e in at.error] == [t("client.link_invalid")]
    assert [w.label for w in at.text_input] == [t("client.new_link_number"), t("client.new_link_email")]
    with unit_of_work(world.engine) as s:
        assert s.scalar(select(func.count()).where(AccessLog.object_type == "client_link")) >= 1


def test_a_survey_link_does_not_open_the_status(world):
    at = page(STATUS, token(world, LinkPurpose.SURVEY))
    assert [e.value for e in at.error] == [t("client.link_invalid")]


# --- survey -----------------------------------------------------------------------------------


def test_the_client_answers_the_survey_once_and_is_thanked(world):
    close_own_case(world)
    tok = token(world, LinkPurpose.SURVEY)
    at = page(SURVEY, tok)
    assert not at.exception and t("survey.title") in texts(at)
    at.radio[0].set_value(9)
    at.text_area[0].input("Alles bestens.")
    click(at, "survey.submit")
    assert not at.exception
    assert t("survey.thanks") in texts(at) and not at.radio
    with unit_of_work(world.engine) as s:
        assert [(a.score, a.comment) for a in s.scalars(select(SurveyAnswer))] == [(9, "Alles bestens.")]
    again = page(SURVEY, tok)
    assert t("survey.already") in texts(again) and not again.radio


def test_sending_the_survey_without_a_score_asks_for_one(world):
    close_own_case(world)
    at = page(SURVEY, token(world, LinkPurpose.SURVEY))
    click(at, "survey.submit")
    assert [e.value for e in at.error] == [t("survey.score_required")]


def test_the_survey_of_an_open_case_waits(world):
    at = page(SURVEY, token(world, LinkPurpose.SURVEY))
    assert t("survey.not_closed") in texts(at) and not at.radio


def test_an_expired_or_tampered_survey_link_is_refused(world):
    close_own_case(world)
    expired = page(SURVEY, token(world, LinkPurpose.SURVEY, at=now() - timedelta(days=61)))
    assert [e.value for e in expired.error] == [t("survey.link_expired")]
    tampered = page(SURVEY, tamper(token(world, LinkPurpose.SURVEY)))
    assert [e.value for e in tampered.error] == [t("survey.link_invalid")] and not tampered.radio
