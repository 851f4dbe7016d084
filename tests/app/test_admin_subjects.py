"""Betroffenenrechte (admin page) and the legal basis on the case page, under AppTest."""

from datetime import timedelta

from sqlalchemy import select

from core.cases import change_status
from core.enums import CaseStatus, LegalBasis, Role
from core.i18n import label, t
from core.permissions import SYSTEM
from core.timeutil import now, to_berlin
from db.engine import unit_of_work
from db.models import AccessLog, Case, Person
from tests.app.conftest import table_text, texts

PAGE = "pages/admin_subjects.py"
WHY = "Auskunftsersuchen vom 01.12."


def button(at, key_label):
    return next(b for b in at.button if b.label == key_label)


def searched(world, query="Eigen", reason=WHY):
    at = world.app(Role.ADMIN, page=PAGE)
    at.text_input(key="subject_query").input(query)
    button(at, t("subject.search")).click().run()
    if reason is not None:
        at.text_input(key="subject_reason").input(reason).run()
    return at


def subject_log(world):
    with unit_of_work(world.engine) as s:
        return [tuple(r) for r in s.execute(select(AccessLog.action, AccessLog.detail)
                                            .where(AccessLog.object_type == "subject").order_by(AccessLog.id))]


def cancel(world, number):
    with unit_of_work(world.engine) as s:
        change_status(s, actor=SYSTEM, number=number, to=CaseStatus.CANCELLED, reason="Kunde Eigen zieht zurück")


def test_search_lists_the_person_with_cases_and_legal_basis(world):
    at = searched(world)
    assert not at.exception
    assert t("subject.hits", n=1, max=50) in texts(at)
    table = table_text(at)
    assert "Erika Eigen" in table and world.own_case in table and "Fremd" not in table
    assert label(LegalBasis.CONTRACT) in table


def test_unknown_name_says_no_hits(world):
    at = searched(world, query="Niemand", reason=None)
    assert t("subject.no_hits") in texts(at)


def test_export_offers_json_and_pdf_and_is_logged_with_the_reason(world):
    at = searched(world)
    button(at, t("subject.export")).click().run()
    assert not at.exception
    assert t("subject.export_done", persons=1, cases=1) in texts(at)
    assert [d.proto.label for d in at.get("download_button")] == [t("subject.download_json"),
                                                                  t("subject.download_pdf")]
    assert ("export", f"reason={WHY}; persons=1; cases=1") in subject_log(world)


def test_export_without_reason_is_refused_and_not_logged(world):
    at = searched(world, reason="")
    button(at, t("subject.export")).click().run()
    assert t("subject.reason_required") in [e.value for e in at.error]
    assert [a for a, _ in subject_log(world)] == ["search"]


def test_erasure_needs_the_confirmation(world):
    cancel(world, world.own_case)
    at = searched(world)
    button(at, t("subject.erase_button")).click().run()
    assert t("subject.erase_needs_confirm") in texts(at)
    with unit_of_work(world.engine) as s:
        assert s.scalar(select(Case.plate).where(Case.number == world.own_case)) == "B-AB 1234"


def test_preview_of_an_open_case_explains_why_it_stays(world):
    at = searched(world)
    button(at, t("subject.erase_preview")).click().run()
    assert not at.exception
    shown = texts(at)
    assert t("subject.dry_run_head", cases=0, persons=0) in shown
    assert t("subject.skip_open", number=world.own_case, status=label(CaseStatus.RECEIVED)) in shown
    assert ("erase_dry_run" in [a for a, _ in subject_log(world)])


def test_confirmed_erasure_of_a_cancelled_case(world):
    cancel(world, world.own_case)
    at = searched(world)
    at.checkbox(key="subject_confirm").check().run()
    button(at, t("subject.erase_button")).click().run()
    assert not at.exception
    assert t("subject.erased_head", cases=1, persons=1) in texts(at)
    with unit_of_work(world.engine) as s:
        case = s.scalar(select(Case).where(Case.number == world.own_case))
        assert (case.plate, case.client.last_name) == ("", f"P-{case.client_id:06d}")
    assert t("subject.no_hits") in texts(at)  # the list shows the persons as they are now: no longer "Eigen"
    assert [a for a, _ in subject_log(world)][-2:] == ["erase", "search"]


# --- the legal basis on the case page ---------------------------------------------------------------------------


def open_case(world, role, number):
    at = world.app(role, page="pages/case_view.py")
    at.query_params["nr"] = number
    at.run()
    return at


def test_case_page_shows_the_legal_basis_with_its_date(world):
    at = open_case(world, Role.MANAGER, world.own_case)
    assert not at.exception
    with unit_of_work(world.engine) as s:
        since = s.scalar(select(Person.legal_basis_at).join(Case, Case.client_id == Person.id)
                         .where(Case.number == world.own_case))
    shown = t("basis.current", basis=label(LegalBasis.CONTRACT), since=to_berlin(since).strftime("%d.%m.%Y"))
    assert shown in texts(at)
    assert t("basis.save") not in [b.label for b in at.button]  # managers read only


def test_partner_does_not_see_the_legal_basis(world):
    at = open_case(world, Role.PARTNER, world.own_case)
    assert t("basis.title") not in texts(at)


def test_staff_records_withdrawn_consent(world):
    at = open_case(world, Role.STAFF, world.own_case)
    day = to_berlin(now()).date() - timedelta(days=2)
    at.selectbox[[s.label for s in at.selectbox].index(t("basis.basis"))].set_value(LegalBasis.CONSENT)
    at.date_input[[d.label for d in at.date_input].index(t("basis.since"))].set_value(day)
    button(at, t("basis.save")).click().run()
    assert not at.exception
    assert t("basis.saved") in texts(at)
    assert t("basis.current", basis=label(LegalBasis.CONSENT), since=day.strftime("%d.%m.%Y")) in texts(at)
    assert t("event.legal_basis_changed") in table_text(at)
