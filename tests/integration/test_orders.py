"""A partner's order on SQLite and PostgreSQL: own orders only, appointment, work done, invoice data with its
files in one transaction, and the order mail with the prefilled declaration."""

import io
from datetime import date, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from core import attachments, board, orders
from core.assignment import accept_order, override_assignment
from core.auth import actor_for
from core.documents import documents_dir
from core.enums import DocumentKind, PartnerKind, Role
from core.errors import NotFound, PermissionDenied, ValidationError
from core.i18n import t
from core.orders import InvoiceInput
from core.timeutil import BERLIN, now
from db.engine import unit_of_work
from db.models import (
    AccessLog,
    Case,
    DocumentVersion,
    Invoice,
    OutboxMessage,
    Task,
    User,
)
from tests.factories import make_case, make_order, make_partner, make_user
from tests.unit.test_upload_validation import make_pdf

PDF = make_pdf("Rechnung Nr. 4711", "Austausch Frontscheibe")
SIGNED = make_pdf("Abtretungserklärung", "unterschrieben")
GOOD = InvoiceInput("R-4711", date(2026, 11, 2), net_cents=50_000, vat_cents=9_500, gross_cents=59_500,
                    deductible_cents=15_000)


@pytest.fixture
def world(engine):
    glass = make_partner(engine, "Autoglas Nord", PartnerKind.GLASS)
    other = make_partner(engine, "Autoglas Süd", PartnerKind.GLASS)
    appraiser = make_partner(engine, "Gutachten Meier", PartnerKind.APPRAISER)
    ids = {
        "staff": make_user(engine, "staff", Role.STAFF),
        "glass": make_user(engine, "glas1", Role.PARTNER, partner_id=glass),
        "other": make_user(engine, "glas2", Role.PARTNER, partner_id=other),
        "appraiser": make_user(engine, "gutachter1", Role.PARTNER, partner_id=appraiser),
    }
    with unit_of_work(engine) as s:
        actors = {k: actor_for(s.get(User, v)) for k, v in ids.items()}
    return {"glass_id": glass, "other_id": other, "appraiser_id": appraiser, **actors}


def submit(engine, settings, actor, number, data=GOOD, invoice=("Rechnung.pdf", PDF), companion=("AE.pdf", SIGNED)):
    with unit_of_work(engine) as s:
        return orders.submit_invoice(s, actor=actor, settings=settings, number=number, data=data,
                                     invoice_file=invoice, companion_file=companion)


def versions(engine) -> int:
    with unit_of_work(engine) as s:
        return s.scalar(select(func.count()).select_from(DocumentVersion))


def test_invoice_with_signed_declaration_is_stored_with_its_data(engine, settings, world):
    number = make_order(engine, world["glass_id"])
    view = submit(engine, settings, world["glass"], number)
    assert (view.gross_cents, view.deductible_cents, view.claimable_cents) == (59_500, 15_000, 44_500)
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        invoice = s.scalar(select(Invoice).where(Invoice.case_id == case.id))
        assert (invoice.invoice_number, invoice.net_cents, invoice.vat_cents) == ("R-4711", 50_000, 9_500)
        assert case.deductible_cents == 15_000
    assert versions(engine) == 2


def test_input_tax_client_claims_the_net_amount_only(engine, settings, world):
    number = make_order(engine, world["glass_id"], amount_claimed_cents=None)
    data = InvoiceInput("R-1", date(2026, 11, 2), 50_000, 9_500, 59_500, 15_000, input_tax_client=True)
    assert submit(engine, settings, world["glass"], number, data).claimable_cents == 35_000
    with unit_of_work(engine) as s:
        assert s.scalar(select(Case.amount_claimed_cents).where(Case.number == number)) == 35_000


@pytest.mark.parametrize(("data", "field"), [
    (InvoiceInput("", date(2026, 11, 2), 50_000, 9_500, 59_500), "invoice_number"),
    (InvoiceInput("R-1", None, 50_000, 9_500, 59_500), "invoice_date"),
    (InvoiceInput("R-1", date(2099, 1, 1), 50_000, 9_500, 59_500), "invoice_date"),
    (InvoiceInput("R-1", date(2026, 11, 2), 50_000, 9_500, 59_600), "gross"),
    (InvoiceInput("R-1", date(2026, 11, 2), 50_000, 5_000, 55_000), "vat"),
    (InvoiceInput("R-1", date(2026, 11, 2), 0, 0, 0), "net"),
    (InvoiceInput("R-1", date(2026, 11, 2), 50_000, 9_500, 59_500, 60_000), "deductible"),
])
def test_bad_invoice_data_is_refused_and_nothing_is_stored(engine, settings, world, data, field):
    number = make_order(engine, world["glass_id"])
    with pytest.raises(ValidationError) as err:
        submit(engine, settings, world["glass"], number, data)
    assert err.value.field == field
    assert versions(engine) == 0
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(Invoice)) == 0


def test_sum_message_names_the_expected_gross(engine, settings, world):
    number = make_order(engine, world["glass_id"])
    with pytest.raises(ValidationError, match="595,00 €"):
        submit(engine, settings, world["glass"], number, InvoiceInput("R-1", date(2026, 11, 2), 50_000, 9_500, 60_000))


def test_seven_percent_and_small_business_vat_are_accepted():
    today = date(2026, 11, 23)
    assert orders.validate_invoice(InvoiceInput("R", today, 10_000, 700, 10_700), today=today, not_before=None)
    assert orders.validate_invoice(InvoiceInput("R", today, 10_000, 0, 10_000), today=today, not_before=None)


def test_glass_shop_must_send_the_signed_declaration_the_first_time(engine, settings, world):
    number = make_order(engine, world["glass_id"])
    with pytest.raises(ValidationError, match=t("invoice.companion_required.assignment")):
        submit(engine, settings, world["glass"], number, companion=None)
    assert versions(engine) == 0


def test_appraiser_sends_the_report_with_the_invoice(engine, settings, world):
    number = make_order(engine, world["appraiser_id"])
    with pytest.raises(ValidationError, match=t("invoice.companion_required.report")):
        submit(engine, settings, world["appraiser"], number, companion=None)
    submit(engine, settings, world["appraiser"], number, companion=("Gutachten.pdf", SIGNED))
    with unit_of_work(engine) as s:
        kinds = {k for (k,) in s.execute(select(DocumentVersion.document_id)).all()}
        assert len(kinds) == 2


def test_a_rejected_companion_file_leaves_no_invoice_behind(engine, settings, world):
    number = make_order(engine, world["glass_id"])
    with pytest.raises(ValidationError):
        submit(engine, settings, world["glass"], number, companion=("AE.pdf", b"not a pdf at all"))
    assert versions(engine) == 0
    assert not list(documents_dir(settings).glob("*"))


def test_corrected_invoice_replaces_the_data_and_keeps_both_files(engine, settings, world):
    number = make_order(engine, world["glass_id"])
    submit(engine, settings, world["glass"], number)
    fixed = InvoiceInput("R-4711-K", date(2026, 11, 3), 40_000, 7_600, 47_600, 15_000)
    assert submit(engine, settings, world["glass"], number, fixed, companion=None).gross_cents == 47_600
    assert versions(engine) == 3


def test_invoice_needs_the_order_accepted_first(engine, settings, world):
    number = make_order(engine, world["glass_id"], accepted=False)
    with pytest.raises(ValidationError, match=t("order.accept_first")):
        submit(engine, settings, world["glass"], number)


def test_another_partner_cannot_touch_the_order(engine, settings, world):
    number = make_order(engine, world["glass_id"])
    with pytest.raises(NotFound):
        submit(engine, settings, world["other"], number)
    with pytest.raises(NotFound), unit_of_work(engine) as s:
        orders.set_appointment(s, actor=world["other"], number=number, when=now() + timedelta(days=1))
    with unit_of_work(engine) as s:
        assert attachments.download_declaration(s, actor=world["other"], number=number) is None
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(AccessLog).where(AccessLog.action == "refused")) == 1


def test_invoice_creates_a_check_task_for_the_clerk(engine, settings, world):
    number = make_order(engine, world["glass_id"])
    with unit_of_work(engine) as s:
        s.scalar(select(Case).where(Case.number == number)).clerk_id = world["staff"].user_id
    submit(engine, settings, world["glass"], number)
    with unit_of_work(engine) as s:
        task = s.scalar(select(Task).where(Task.kind == "invoice"))
        assert (task.assignee_id, task.title) == (world["staff"].user_id, t("invoice.check_task", number="R-4711"))


def test_appointment_and_work_done(engine, settings, world):
    number = make_order(engine, world["glass_id"])
    when = datetime(2026, 12, 1, 9, 30, tzinfo=BERLIN) if now() < datetime(2026, 12, 1, tzinfo=BERLIN) \
        else now() + timedelta(days=3)
    with unit_of_work(engine) as s:
        orders.set_appointment(s, actor=world["glass"], number=number, when=when)
        orders.report_work_done(s, actor=world["glass"], number=number)
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        assert case.appointment_at == when
        assert case.work_done_at is not None


def test_appointment_far_in_the_future_is_refused(engine, world):
    number = make_order(engine, world["glass_id"])
    with pytest.raises(ValidationError, match=t("order.appointment_range")), unit_of_work(engine) as s:
        orders.set_appointment(s, actor=world["glass"], number=number, when=now() + timedelta(days=400))


def test_partner_order_list_shows_only_its_own_orders_whatever_the_filter(engine, world):
    own = [make_order(engine, world["glass_id"]) for _ in range(3)]
    make_order(engine, world["other_id"])
    with unit_of_work(engine) as s:
        sneaky = board.BoardFilter(partner_id=world["other_id"])
        page = board.list_orders(s, actor=world["glass"], filters=sneaky, page_size=2)
        rest = board.list_orders(s, actor=world["glass"], filters=sneaky, after=page.next_cursor, page_size=2)
        counts = board.order_status_counts(s, actor=world["glass"], filters=sneaky)
    assert {r.number for r in page.rows + rest.rows} == set(own)
    assert rest.next_cursor is None
    assert sum(counts.values()) == 3


def test_order_list_is_refused_to_staff(engine, world):
    with pytest.raises(PermissionDenied), unit_of_work(engine) as s:
        board.list_orders(s, actor=world["staff"], filters=board.BoardFilter())


def test_new_assignment_queues_the_order_mail_with_the_declaration(engine, world):
    number = make_case(engine)
    with unit_of_work(engine) as s:
        override_assignment(s, actor=world["staff"], number=number, partner_id=world["glass_id"], reason="Nähe")
    with unit_of_work(engine) as s:
        mail = s.scalar(select(OutboxMessage))
        assert mail.recipient == "info@autoglasnord.example"
        assert number in mail.subject and f"/case?nr={number}" in mail.body
        assert mail.attachments[0]["kind"] == "assignment_declaration"
        pdf = attachments.render_attachment(s, actor=world["staff"], spec=mail.attachments[0])
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert number in text and "Muster" in text and "HUK-COBURG" in text and "Autoglas Nord" in text


def test_partner_without_email_gets_no_mail_but_an_event(engine, world):
    silent = make_partner(engine, "Glas Stumm", PartnerKind.GLASS, email="")
    number = make_case(engine)
    with unit_of_work(engine) as s:
        override_assignment(s, actor=world["staff"], number=number, partner_id=silent, reason="Test")
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        case = s.scalar(select(Case).where(Case.number == number))
        assert case.event_count >= 2


def test_partner_downloads_the_declaration_of_its_accepted_order(engine, world):
    number = make_order(engine, world["glass_id"], accepted=False)
    with unit_of_work(engine) as s:
        accept_order(s, actor=world["glass"], number=number)
        pdf = attachments.download_declaration(s, actor=world["glass"], number=number)
    assert pdf.data.startswith(b"%PDF")
    assert number in PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()


def test_order_view_for_staff_and_for_the_partner(engine, settings, world):
    number = make_order(engine, world["glass_id"])
    submit(engine, settings, world["glass"], number)
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        mine = orders.order_view(s, actor=world["glass"], case=case)
        staff = orders.order_view(s, actor=world["staff"], case=case)
        foreign = orders.order_view(s, actor=world["other"], case=case)
    assert (mine.state, mine.companion_kind, mine.companion_present, mine.may_respond) == (
        "accepted", DocumentKind.ASSIGNMENT, True, True)
    assert staff.invoice.invoice_number == "R-4711" and staff.may_respond
    assert foreign is None
