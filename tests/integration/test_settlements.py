"""Monthly settlements on SQLite and PostgreSQL: which payments go in, exact commission, once per case,
the statement mail and PDF, a partner sees only its own, marking paid."""

import io
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from core import attachments, settlements
from core.auth import actor_for
from core.enums import PartnerKind, Role, SettlementStatus
from core.errors import NotFound, PermissionDenied, ValidationError
from core.timeutil import BERLIN
from db.engine import unit_of_work
from db.models import AccessLog, Case, OutboxMessage, Partner, SettlementLine, User
from tests.factories import make_order, make_partner, make_user

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def world(engine):
    appraiser = make_partner(engine, "Gutachten Meier", PartnerKind.APPRAISER, commission_bp=1250)
    glass = make_partner(engine, "Autoglas Nord", PartnerKind.GLASS)
    ids = {
        "staff": make_user(engine, "staff", Role.STAFF),
        "appraiser": make_user(engine, "gutachter1", Role.PARTNER, partner_id=appraiser),
        "glass": make_user(engine, "glas1", Role.PARTNER, partner_id=glass),
        "manager": make_user(engine, "manager", Role.MANAGER),
    }
    with unit_of_work(engine) as s:
        actors = {k: actor_for(s.get(User, v)) for k, v in ids.items()}
    return {"appraiser_id": appraiser, "glass_id": glass, **actors}


def paid_order(engine, partner_id, paid_cents, paid_at):
    number = make_order(engine, partner_id, received_at=datetime(2026, 9, 1, 8, tzinfo=UTC))
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        case.amount_paid_cents, case.paid_at, case.deductible_cents = paid_cents, paid_at, 0
    return number


def create(engine, actor, month="2026-10"):
    with unit_of_work(engine) as s:
        return settlements.create_settlements(s, actor=actor, month=month, at=NOW)


def test_commission_is_rounded_half_up_to_the_cent():
    assert settlements.commission_cents(10_000, 1250) == 1_250
    assert settlements.commission_cents(33_333, 1000) == 3_333
    assert settlements.commission_cents(33_335, 1000) == 3_334  # 3333.5 -> 3334
    assert settlements.commission_cents(12_345, 0) == 0


def test_month_bounds_follow_berlin_midnight():
    start, end = settlements.month_bounds("2026-10")
    assert start == datetime(2026, 10, 1, tzinfo=BERLIN)
    assert end == datetime(2026, 11, 1, tzinfo=BERLIN)
    with pytest.raises(ValidationError):
        settlements.month_bounds("2026-13")


def test_statement_sums_lines_exactly(engine, world):
    a = paid_order(engine, world["appraiser_id"], 33_335, datetime(2026, 10, 3, 10, tzinfo=UTC))
    b = paid_order(engine, world["appraiser_id"], 100_001, datetime(2026, 10, 31, 22, 30, tzinfo=UTC))  # 31.10. 23:30 Berlin
    (statement,) = [s for s in create(engine, world["staff"]) if s.partner == "Gutachten Meier"]
    assert [line.case_number for line in statement.lines] == [a, b]
    assert [line.commission_cents for line in statement.lines] == [4_167, 12_500]
    assert statement.paid_in_cents == 133_336
    assert statement.commission_cents == 16_667
    assert statement.payout_cents == 133_336 - 16_667


def test_payment_after_the_month_waits_for_the_next_statement(engine, world):
    paid_order(engine, world["glass_id"], 10_000, datetime(2026, 10, 31, 23, 30, tzinfo=UTC))  # 1.11. Berlin
    assert create(engine, world["staff"]) == []


def test_a_case_is_settled_once_and_late_payments_go_into_the_next_month(engine, world):
    paid_order(engine, world["glass_id"], 10_000, datetime(2026, 9, 15, tzinfo=UTC))
    assert len(create(engine, world["staff"], "2026-09")) == 1
    assert create(engine, world["staff"], "2026-09") == []
    assert create(engine, world["staff"], "2026-10") == []
    late = paid_order(engine, world["glass_id"], 5_000, datetime(2026, 9, 20, tzinfo=UTC))  # recorded late
    (october,) = create(engine, world["staff"], "2026-10")
    assert [line.case_number for line in october.lines] == [late]
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(SettlementLine)) == 2


def test_a_month_that_is_not_over_is_refused(engine, world):
    with pytest.raises(ValidationError):
        create(engine, world["staff"], "2026-11")


def test_statement_is_mailed_with_its_pdf(engine, world):
    number = paid_order(engine, world["glass_id"], 44_500, datetime(2026, 10, 10, tzinfo=UTC))
    (statement,) = create(engine, world["staff"])
    with unit_of_work(engine) as s:
        mail = s.scalar(select(OutboxMessage).where(OutboxMessage.template_key == "settlement_ready"))
        assert mail.recipient == "info@autoglasnord.example"
        assert "445,00 €" in mail.body and "Oktober 2026" in mail.subject
        pdf = attachments.render_attachment(s, actor=world["staff"], spec=mail.attachments[0])
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert number in text and statement.number in text and "445,00 €" in text


def test_partner_sees_and_downloads_only_its_own_statements(engine, world):
    paid_order(engine, world["glass_id"], 10_000, datetime(2026, 10, 10, tzinfo=UTC))
    paid_order(engine, world["appraiser_id"], 10_000, datetime(2026, 10, 10, tzinfo=UTC))
    made = {s.partner: s for s in create(engine, world["staff"])}
    with unit_of_work(engine) as s:
        own = settlements.list_settlements(s, actor=world["glass"])
        assert [r.partner for r in own] == ["Autoglas Nord"]
        assert attachments.download_settlement(s, actor=world["glass"], settlement_id=own[0].id).data[:4] == b"%PDF"
    with pytest.raises(NotFound), unit_of_work(engine) as s:
        attachments.download_settlement(s, actor=world["glass"], settlement_id=made["Gutachten Meier"].id)


def test_staff_marks_a_statement_paid_once(engine, world):
    paid_order(engine, world["glass_id"], 10_000, datetime(2026, 10, 10, tzinfo=UTC))
    (statement,) = create(engine, world["staff"])
    with unit_of_work(engine) as s:
        done = settlements.mark_settlement_paid(s, actor=world["staff"], settlement_id=statement.id, reference="TX 1")
    assert (done.status, done.paid_reference) == (SettlementStatus.PAID, "TX 1")
    with pytest.raises(ValidationError), unit_of_work(engine) as s:
        settlements.mark_settlement_paid(s, actor=world["staff"], settlement_id=statement.id, reference="TX 2")
    with unit_of_work(engine) as s:
        assert settlements.open_totals(s, actor=world["staff"]) == (0, 0)


@pytest.mark.parametrize("who", ["glass", "manager"])
def test_only_the_back_office_makes_and_pays_statements(engine, world, who):
    with pytest.raises(PermissionDenied):
        create(engine, world[who])


def test_statement_keeps_the_partner_data_of_its_day(engine, world):
    paid_order(engine, world["glass_id"], 10_000, datetime(2026, 10, 10, tzinfo=UTC))
    (statement,) = create(engine, world["staff"])
    with unit_of_work(engine) as s:
        s.get(Partner, world["glass_id"]).name = "Autoglas Nord Neu GmbH"
    with unit_of_work(engine) as s:
        assert settlements.get_settlement(s, actor=world["staff"], settlement_id=statement.id).partner == "Autoglas Nord"
        assert s.scalar(select(func.count()).select_from(AccessLog).where(AccessLog.object_type == "settlement")) == 1


def test_refused_and_zero_payments_are_not_settled(engine, world):
    paid_order(engine, world["glass_id"], 0, datetime(2026, 10, 10, tzinfo=UTC))
    assert create(engine, world["staff"]) == []
