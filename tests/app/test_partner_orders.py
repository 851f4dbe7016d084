"""The partner portal in AppTest: own orders with paging, the order tab (appointment, invoice with its data
and files), staff see the invoice, statements for partner and back office, the broker's report."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from core import settlements
from core.enums import Role
from core.i18n import t
from core.permissions import Actor
from db.engine import unit_of_work
from db.models import Assignment, Case, DocumentVersion, Invoice, Settlement
from tests.app.conftest import table_text, texts
from tests.factories import make_order
from tests.unit.test_upload_validation import make_pdf

STAFF = Actor(user_id=None, username="s", display_name="Sys", role=Role.STAFF)


def accepted(world, number):
    with unit_of_work(world.engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        s.add(Assignment(case_id=case.id, partner_id=case.partner_id, iso_week="2026-W48", origin="override",
                         reason="Test", candidates=[], assigned_at=datetime.now(UTC), accepted_at=datetime.now(UTC)))


def case_page(world, role, number):
    at = world.app(role, page="pages/case_view.py")
    at.query_params["nr"] = number
    at.run()
    return at


def field(at, label, value):
    next(w for w in at.text_input if w.label == label).input(value)


def click(at, label):
    next(b for b in at.button if b.label == label).click()
    at.run()


def fill_invoice(at, gross="595,00"):
    field(at, t("invoice.number"), "R-2026-17")
    field(at, t("invoice.net"), "500,00")
    field(at, t("invoice.vat"), "95,00")
    field(at, t("invoice.gross"), gross)
    field(at, t("invoice.deductible"), "150,00")
    at.file_uploader[0].upload("Rechnung.pdf", make_pdf("Rechnung R-2026-17"), "application/pdf")
    at.file_uploader[1].upload("AE.pdf", make_pdf("Abtretung unterschrieben"), "application/pdf")


def test_my_orders_lists_only_own_orders(world):
    at = world.app(Role.PARTNER, page="pages/partner_orders.py")
    assert not at.exception
    shown = table_text(at)
    assert world.own_case in shown and world.foreign_case not in shown
    assert t("home.quota_own", week="") .split("(")[0].strip() in texts(at)


def test_my_orders_pages_with_the_board_rules(world):
    for _ in range(55):
        make_order(world.engine, world.partner_id)
    at = world.app(Role.PARTNER, page="pages/partner_orders.py")
    first = set(at.dataframe[0].value.iloc[:, 0])
    assert len(first) == 50
    click(at, t("board.next"))
    second = set(at.dataframe[0].value.iloc[:, 0])
    assert len(second) == 6 and not first & second
    assert t("board.page", page=2) in texts(at)


def test_a_search_with_more_orders_than_counted_says_so(world, monkeypatch):
    from core import board_search

    monkeypatch.setattr(board_search, "COUNT_CAP", 1)
    for _ in range(2):
        make_order(world.engine, world.partner_id, last_name="Eigenbrodt")
    at = world.app(Role.PARTNER, page="pages/partner_orders.py")
    next(w for w in at.text_input if w.label == t("orders.search")).input("eigen")
    click(at, t("board.apply"))
    assert len(at.dataframe[0].value) == 3  # Eigen and two Eigenbrodt, all received
    more = t("board.more_than", count="1")
    assert next(m.value for m in at.metric if m.label == t("orders.open_count")) == more
    assert t("board.total", count=more) in " ".join(c.value for c in at.caption)


def test_partner_submits_the_invoice_on_the_order_tab(world):
    accepted(world, world.own_case)
    at = case_page(world, Role.PARTNER, world.own_case)
    assert t("order.title") in [tab.label for tab in at.tabs]
    fill_invoice(at)
    click(at, t("invoice.submit"))
    assert not at.exception
    assert t("invoice.submitted") in texts(at)
    with unit_of_work(world.engine) as s:
        invoice = s.scalar(select(Invoice))
        assert (invoice.gross_cents, invoice.deductible_cents) == (59_500, 15_000)


def test_wrong_gross_shows_the_sum_and_stores_nothing(world):
    accepted(world, world.own_case)
    at = case_page(world, Role.PARTNER, world.own_case)
    fill_invoice(at, gross="600,00")
    click(at, t("invoice.submit"))
    assert "595,00 €" in "\n".join(e.value for e in at.error)
    with unit_of_work(world.engine) as s:
        assert s.scalar(select(func.count()).select_from(DocumentVersion)) == 0


def test_partner_sets_the_appointment_and_reports_work_done(world):
    accepted(world, world.own_case)
    at = case_page(world, Role.PARTNER, world.own_case)
    click(at, t("order.appointment_save"))
    assert t("order.appointment_saved") in texts(at)
    click(at, t("order.work_done_button"))
    assert t("order.work_done_saved") in texts(at)
    with unit_of_work(world.engine) as s:
        case = s.scalar(select(Case).where(Case.number == world.own_case))
        assert case.appointment_at is not None and case.work_done_at is not None


def test_open_order_shows_no_invoice_form_until_accepted(world):
    with unit_of_work(world.engine) as s:
        case = s.scalar(select(Case).where(Case.number == world.own_case))
        s.add(Assignment(case_id=case.id, partner_id=case.partner_id, iso_week="2026-W48", origin="auto",
                         reason="Test", candidates=[], assigned_at=datetime.now(UTC)))
    at = case_page(world, Role.PARTNER, world.own_case)
    assert t("assign.accept") in [b.label for b in at.button]
    assert t("invoice.submit") not in [b.label for b in at.button]


def test_staff_see_the_partners_invoice(world):
    accepted(world, world.own_case)
    fill = case_page(world, Role.PARTNER, world.own_case)
    fill_invoice(fill)
    click(fill, t("invoice.submit"))
    at = case_page(world, Role.STAFF, world.own_case)
    assert "R-2026-17" in texts(at) and "595,00 €" in texts(at)


def test_partner_cannot_open_a_foreign_order(world):
    at = case_page(world, Role.PARTNER, world.foreign_case)
    assert [e.value for e in at.error] == [t("case.refused")]


def _paid_and_settled(world):
    accepted(world, world.own_case)
    with unit_of_work(world.engine) as s:
        case = s.scalar(select(Case).where(Case.number == world.own_case))
        case.amount_paid_cents, case.paid_at = 44_500, datetime(2026, 10, 10, tzinfo=UTC)
    with unit_of_work(world.engine) as s:
        settlements.create_settlements(s, actor=Actor(user_id=world.users[Role.STAFF], username="s",
                                                      display_name="S", role=Role.STAFF),
                                       month="2026-10", at=datetime(2026, 11, 2, tzinfo=UTC))


def test_partner_sees_its_statement(world):
    _paid_and_settled(world)
    at = world.app(Role.PARTNER, page="pages/partner_settlements.py")
    assert not at.exception
    assert "Oktober 2026" in texts(at) and "445,00 €" in texts(at)


def test_staff_mark_a_statement_paid(world):
    _paid_and_settled(world)
    at = world.app(Role.STAFF, page="pages/staff_settlements.py")
    assert "Autoglas Eins" in table_text(at)
    field(at, t("settle.reference"), "SEPA 2026-11-01")
    click(at, t("settle.mark_paid"))
    assert t("settle.marked_paid") in texts(at)
    with unit_of_work(world.engine) as s:
        assert s.scalar(select(Settlement.paid_reference)) == "SEPA 2026-11-01"


def test_staff_create_last_months_statements(world):
    at = world.app(Role.STAFF, page="pages/staff_settlements.py")
    click(at, t("settle.create", month=settlements.month_label(settlements.last_month())))
    assert not at.exception
    assert t("settle.none_created") in texts(at)


def test_broker_sees_only_the_appraisal_report_and_can_open_it(world):
    from core.documents import upload_document
    from core.enums import DocumentKind

    with unit_of_work(world.engine) as s:
        for kind, name in ((DocumentKind.REPORT, "Gutachten.pdf"), (DocumentKind.INVOICE, "Rechnung.pdf")):
            upload_document(s, actor=STAFF, settings=world.settings, case_number=world.own_case, kind=kind,
                            filename=name, data=make_pdf(name))
    at = case_page(world, Role.BROKER, world.own_case)
    listed = "\n".join(x.value for x in at.text)
    assert "Gutachten.pdf" in listed and "Rechnung.pdf" not in listed
    next(b for b in at.button if (b.key or "").startswith("doc_open_")).click()
    at.run()
    assert not at.exception
    assert len(at.get("download_button")) == 1
