"""The retention purge on SQLite and PostgreSQL (§10): the 24-month boundary in Berlin days, what is erased and
what stays for the KPIs, documents' files, booking records and business letters with their legal periods, legal
hold, dry run, idempotency, the run log, the daily worker run and the command line."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import documents, retention
from core.cases import NewCase, change_status, create_case
from core.cli import main
from core.correspondence import log_callback
from core.enums import (
    CaseStatus,
    DamageType,
    DocumentKind,
    NoteVisibility,
    PartnerKind,
    Role,
)
from core.errors import PermissionDenied, ValidationError
from core.events import verify_chain
from core.notes import add_note
from core.permissions import SYSTEM, Actor
from core.settings import Settings
from core.tasks import create_task
from core.timeutil import BERLIN, now
from db.base import Base
from db.engine import unit_of_work
from db.models import (
    Assignment,
    Case,
    CaseCallback,
    CaseEvent,
    Document,
    DocumentVersion,
    InboundMail,
    InboundMailStatus,
    InsurerQuery,
    Invoice,
    Note,
    OutboxMessage,
    Person,
    PurgeRun,
    Settlement,
    SettlementLine,
    SurveyAnswer,
    Task,
)
from tests.factories import make_partner
from tests.unit.test_upload_validation import make_image, make_pdf

STAFF = Actor(user_id=None, username="clerk", display_name="Clara Clerk", role=Role.STAFF)
LAWYER = Actor(user_id=None, username="jura", display_name="Jana Jura", role=Role.LAWYER)

RECEIVED = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
# 15.03.2024 23:30 UTC is already 16.03.2024 00:30 in Berlin: the case closed on Berlin day 16.03.2024,
# so with 24 months it is kept through 15.03.2026 and purged from 16.03.2026 00:00 Berlin on.
CLOSED = datetime(2024, 3, 15, 23, 30, tzinfo=UTC)
LAST_KEPT = datetime(2026, 3, 15, 23, 59, 59, tzinfo=BERLIN)
FIRST_PURGED = datetime(2026, 3, 16, 0, 0, tzinfo=BERLIN)
PHOTO = make_image("PNG")
INVOICE_PDF = make_pdf("Rechnung 4711 für Erika Mustermann")
LETTER_PDF = make_pdf("Forderungsschreiben Mandantin Erika Mustermann")


# --- building finished cases with everything a real one has ------------------------------------------------------


def finished_case(
    engine, settings, *, closed_at=CLOSED, received_at=RECEIVED, how="paid", partner_id=None, email="erika@example.org",
    person_id=None,
) -> str:
    """A case with a full client record, note, task, query, callback, survey, assignment, photo, invoice and claim
    letter, taken through the lifecycle to `how` (paid then closed, refused, cancelled or open) at `closed_at`."""
    with unit_of_work(engine) as s:
        case = create_case(s, actor=STAFF, data=NewCase(
            damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name="Mustermann",
            client_first_name="Erika", client_email=email, client_phone="+49 30 1234567",
            client_street="Musterweg 1", client_city="Berlin", postal_code="10115", plate="B-EM 4711",
            vin="WVWZZZ1JZXW000001", policy_number="POL-99", insurer_claim_number="HUK-123",
            incident_date=date(2024, 2, 28), incident_description="Steinschlag auf der A100, Frau Mustermann fuhr",
            received_at=received_at, amount_claimed_cents=50_000,
        ))
        if person_id is not None:
            s.delete(case.client)
            case.client_id = person_id
        case.partner_id = partner_id
        number = case.number
        if partner_id is not None:
            s.add(Assignment(case_id=case.id, partner_id=partner_id, iso_week="2024-W09", origin="override",
                             reason="Frau Mustermann wünscht diesen Betrieb", decline_reason="Kundin nicht erreichbar",
                             candidates=[], assigned_at=received_at))
        add_note(s, actor=STAFF, number=number, visibility=NoteVisibility.INTERNAL, body="Frau Mustermann rief an")
        create_task(s, actor=STAFF, case=case, title="Frau Mustermann zurückrufen")
        s.add(InsurerQuery(case_id=case.id, subject="Fahrzeugschein von Frau Mustermann", received_at=received_at,
                           answered_at=received_at + timedelta(days=2)))
        log_callback(s, actor=STAFF, number=number, caller="client")
    for kind, name, data in ((DocumentKind.PHOTO, "Mustermann_Scheibe.png", PHOTO),
                             (DocumentKind.INVOICE, "Rechnung_Mustermann.pdf", INVOICE_PDF),
                             (DocumentKind.CLAIM_LETTER, "Forderung_Mustermann.pdf", LETTER_PDF)):
        with unit_of_work(engine) as s:
            documents.upload_document(s, actor=STAFF, settings=settings, case_number=number, kind=kind,
                                      filename=name, data=data)
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        for version in s.scalars(select(DocumentVersion).join(Document).where(Document.case_id == case.id)):
            version.uploaded_at = received_at + timedelta(days=1)  # uploaded back then
        invoice_version = s.scalar(select(DocumentVersion.id).join(Document).where(
            Document.case_id == case.id, Document.kind == DocumentKind.INVOICE))
        if partner_id is not None:
            s.add(Invoice(case_id=case.id, partner_id=partner_id, invoice_number="4711",
                          invoice_date=received_at.date(), net_cents=42_017, vat_cents=7_983, gross_cents=50_000,
                          document_version_id=invoice_version, submitted_at=received_at + timedelta(days=1)))
    if how == "open":
        return number
    with unit_of_work(engine) as s:
        if how == "cancelled":
            change_status(s, actor=STAFF, number=number, to=CaseStatus.CANCELLED,
                          reason="Frau Mustermann hat zurückgezogen", at=closed_at)
            return number
        change_status(s, actor=STAFF, number=number, to=CaseStatus.REVIEW, at=received_at + timedelta(hours=2))
        change_status(s, actor=STAFF, number=number, to=CaseStatus.CLAIM_SENT, at=received_at + timedelta(hours=20))
        if how == "refused":
            change_status(s, actor=STAFF, number=number, to=CaseStatus.CLOSED, at=closed_at,
                          reason="Versicherung lehnt ab, Frau Mustermann informiert")
        else:
            change_status(s, actor=STAFF, number=number, to=CaseStatus.PAID, amount_paid_cents=45_000,
                          at=closed_at - timedelta(days=3), paid_at=closed_at - timedelta(days=3))
            change_status(s, actor=STAFF, number=number, to=CaseStatus.CLOSED, at=closed_at)
        case = s.scalar(select(Case).where(Case.number == number))
        s.add(SurveyAnswer(case_id=case.id, score=9, comment="Danke, Erika Mustermann", answered_at=closed_at))
    return number


def run(engine, settings, at, *, dry_run=False, actor=SYSTEM):
    with Session(engine, expire_on_commit=False) as s:
        return retention.purge(s, actor=actor, settings=settings, at=at, dry_run=dry_run)


def person_of(engine, number) -> Person:
    with Session(engine) as s:
        person = s.scalar(select(Person).join(Case, Case.client_id == Person.id).where(Case.number == number))
        s.expunge_all()
        return person


def case_row(engine, number) -> Case:
    with Session(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        s.expunge_all()
        return case


def snapshot(engine) -> dict:
    """Every row of every table, for "nothing changed"."""
    with engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(t.select()).all())) for t in Base.metadata.sorted_tables}


def stored_files(settings) -> set[str]:
    folder = documents.documents_dir(settings)
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def kpi_columns(engine) -> dict:
    """What the KPIs read, per case number."""
    with Session(engine) as s:
        scores = dict(s.execute(select(SurveyAnswer.case_id, SurveyAnswer.score)).all())
        calls = dict(s.execute(select(CaseCallback.case_id, func.count()).group_by(CaseCallback.case_id)).all())
        return {
            c.number: (c.received_at, c.claim_letter_sent_at, c.paid_at, c.closed_at, c.cancelled_at,
                       c.amount_claimed_cents, c.amount_paid_cents, c.deductible_cents, c.status, c.damage_type,
                       c.insurer_id, c.partner_id, c.clerk_id, c.throughput_hours, c.postal_code[:2],
                       scores.get(c.id), calls.get(c.id, 0))
            for c in s.scalars(select(Case))
        }


@pytest.fixture
def partner(engine):
    return make_partner(engine, "Autoglas Nord", PartnerKind.GLASS)


# --- when ------------------------------------------------------------------------------------------------------


def test_case_is_kept_through_the_last_berlin_day_before_24_months(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    report = run(engine, settings, LAST_KEPT)
    assert report.counts["cases"] == 0
    assert person_of(engine, number).last_name == "Mustermann"


def test_case_is_purged_from_midnight_berlin_of_the_day_24_months_after_closing(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    report = run(engine, settings, FIRST_PURGED)
    assert report.case_numbers == (number,)
    assert person_of(engine, number).last_name.startswith("P-")


def test_retention_months_setting_moves_the_boundary(engine, settings, partner, tmp_path):
    number = finished_case(engine, settings, partner_id=partner)
    twelve = Settings.load(env={"DATABASE_URL": settings.database_url, "DATA_DIR": str(settings.data_dir),
                                "RETENTION_MONTHS": "12"}, secrets_path=tmp_path / "none.toml")
    assert run(engine, twelve, datetime(2025, 3, 15, 12, tzinfo=BERLIN)).counts["cases"] == 0
    assert run(engine, twelve, datetime(2025, 3, 16, 0, 0, tzinfo=BERLIN)).case_numbers == (number,)


def test_cancelled_case_counts_from_its_cancellation(engine, settings):
    number = finished_case(engine, settings, how="cancelled")
    assert run(engine, settings, LAST_KEPT).counts["cases"] == 0
    assert run(engine, settings, FIRST_PURGED).case_numbers == (number,)


def test_open_case_is_never_touched_whatever_its_age(engine, settings):
    finished_case(engine, settings, how="open", received_at=datetime(2014, 1, 2, 9, tzinfo=UTC))
    before, files = snapshot(engine), stored_files(settings)
    report = run(engine, settings, datetime(2040, 1, 1, tzinfo=UTC))
    after = snapshot(engine)
    assert report.changed == 0
    assert {k: v for k, v in after.items() if k != "purge_runs"} == {k: v for k, v in before.items()
                                                                     if k != "purge_runs"}
    assert stored_files(settings) == files


# --- what goes, what stays -------------------------------------------------------------------------------------


def test_client_and_free_texts_are_erased(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner, how="refused")
    run(engine, settings, FIRST_PURGED)
    person, case = person_of(engine, number), case_row(engine, number)
    assert (person.first_name, person.email, person.phone, person.street, person.postal_code, person.city) == (
        "", "", "", "", "", "")
    assert person.last_name == f"P-{person.id:06d}" and person.pseudonymised_at is not None
    assert (case.plate, case.vin, case.policy_number, case.insurer_claim_number, case.incident_date,
            case.incident_description, case.status_reason, case.postal_code) == ("", "", "", "", None, "", "", "10")
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Note)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert s.scalars(select(Task.title)).all() == [""]
        assert s.scalars(select(InsurerQuery.subject)).all() == [""]
        assert s.scalars(select(SurveyAnswer.comment)).all() == [""]
        assert s.execute(select(Assignment.reason, Assignment.decline_reason)).all() == [("", "")]


def test_insurer_mail_filed_into_the_case_loses_its_texts_but_keeps_its_key(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    with unit_of_work(engine) as s:
        s.add(InboundMail(message_key="k" * 64, message_id="<1@versicherung.de>", sender="max@mustermann.de",
                          sender_name="Max Mustermann", subject=f"{number} Mustermann", body_excerpt="Herr Mustermann",
                          status=InboundMailStatus.FILED, matched_numbers=[number],
                          rejected=[{"name": "mustermann.exe", "reason": "Dateityp"}],
                          case_id=case_row(engine, number).id))
    run(engine, settings, FIRST_PURGED)
    with Session(engine) as s:
        mail = s.scalar(select(InboundMail))
        assert (mail.message_key, mail.message_id, mail.sender, mail.sender_name, mail.subject, mail.body_excerpt,
                mail.matched_numbers, mail.rejected) == ("k" * 64, "", "", "", "", "", [], [])


def test_no_stored_text_mentions_the_client_after_purge(engine, settings, partner):
    finished_case(engine, settings, partner_id=partner)
    run(engine, settings, FIRST_PURGED)
    dump = snapshot(engine)
    dump.pop("case_events")  # append-only log: holds workflow facts, checked separately below
    assert not [table for table, rows in dump.items() if any("Mustermann" in r or "B-EM 4711" in r for r in rows)]


def test_events_are_not_rewritten_and_hold_no_client_master_data(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    with Session(engine) as s:
        before = s.execute(select(CaseEvent.id, CaseEvent.hash).order_by(CaseEvent.id)).all()
    run(engine, settings, FIRST_PURGED)
    with Session(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()
        assert [(e.id, e.hash) for e in events[:len(before)]] == before
        assert events[-1].action == "personal_data_erased"
        assert verify_chain(s, case=case).ok
        assert not [e for e in events if any(v in repr(e.details) for v in ("erika@", "B-EM 4711", "WVWZZZ", "POL-99"))]


def test_kpi_columns_are_identical_before_and_after_purge(engine, settings, partner):
    for how in ("paid", "refused", "cancelled", "open"):
        finished_case(engine, settings, partner_id=partner, how=how, email=f"{how}@example.org")
    before = kpi_columns(engine)
    assert run(engine, settings, FIRST_PURGED).counts["cases"] == 3
    assert kpi_columns(engine) == before


def test_photo_files_are_deleted_and_letters_and_invoices_kept_pseudonymised(engine, settings, partner):
    finished_case(engine, settings, partner_id=partner)
    files_before = stored_files(settings)
    report = run(engine, settings, FIRST_PURGED)
    with Session(engine) as s:
        kept = s.execute(select(Document.kind, Document.title, DocumentVersion.original_name, DocumentVersion.text,
                                DocumentVersion.stored_name).join(DocumentVersion).order_by(Document.kind)).all()
    assert report.counts["documents"] == 1
    assert [(k, title, name, text) for k, title, name, text, _ in kept] == [
        (DocumentKind.CLAIM_LETTER, "", "claim_letter-v1.pdf", ""), (DocumentKind.INVOICE, "", "invoice-v1.pdf", "")]
    assert stored_files(settings) == {row.stored_name for row in kept}
    assert len(files_before - stored_files(settings)) == 1


def test_invoice_is_kept_through_the_eighth_year_end_and_deleted_after(engine, settings, partner):
    finished_case(engine, settings, partner_id=partner)
    run(engine, settings, FIRST_PURGED)
    # booked 2024: kept through 31.12.2032, deleted from 01.01.2033 (Berlin)
    assert run(engine, settings, datetime(2032, 12, 31, 23, 59, tzinfo=BERLIN)).counts["invoices"] == 0
    report = run(engine, settings, datetime(2033, 1, 1, 0, 0, tzinfo=BERLIN))
    with Session(engine) as s:
        kinds = s.scalars(select(Document.kind)).all()
        assert s.scalar(select(func.count()).select_from(Invoice)) == 0
    assert report.counts["invoices"] == 1 and DocumentKind.INVOICE not in kinds
    assert stored_files(settings) == set()  # the letters went after six years already


def test_business_letters_are_deleted_after_the_sixth_year_end(engine, settings, partner):
    finished_case(engine, settings, partner_id=partner)
    run(engine, settings, FIRST_PURGED)
    assert run(engine, settings, datetime(2030, 12, 31, 23, 59, tzinfo=BERLIN)).counts["letters"] == 0
    report = run(engine, settings, datetime(2031, 1, 1, 0, 0, tzinfo=BERLIN))
    with Session(engine) as s:
        assert s.scalars(select(Document.kind)).all() == [DocumentKind.INVOICE]
    assert (report.counts["letters"], report.counts["documents"]) == (1, 1)


def test_settlement_is_deleted_after_its_eighth_year_end(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        statement = Settlement(partner_id=partner, month="2024-03", commission_bp=0, paid_in_cents=45_000,
                               commission_cents=0, payout_cents=45_000, partner_snapshot={"name": "Autoglas Nord"},
                               created_at=datetime(2024, 4, 2, tzinfo=UTC))
        s.add(statement)
        s.flush()
        s.add(SettlementLine(settlement_id=statement.id, case_id=case.id, case_number=number, paid_at=case.paid_at,
                             paid_cents=45_000, commission_cents=0, payout_cents=45_000))
    assert run(engine, settings, datetime(2032, 12, 31, 12, tzinfo=BERLIN)).counts["settlements"] == 0
    assert run(engine, settings, datetime(2033, 1, 1, 0, 0, tzinfo=BERLIN)).counts["settlements"] == 1
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SettlementLine)) == 0


# --- legal hold, blocking, permissions ---------------------------------------------------------------------------


def test_case_under_legal_hold_is_skipped_entirely(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    with unit_of_work(engine) as s:
        retention.set_legal_hold(s, actor=LAWYER, case=s.scalar(select(Case).where(Case.number == number)), on=True,
                                 reason="Klage LG Berlin, Az. 12 O 34/26")
    before, files = snapshot(engine), stored_files(settings)
    report = run(engine, settings, datetime(2040, 1, 1, tzinfo=UTC))
    after = snapshot(engine)
    assert report.counts["legal_hold"] == 1 and report.changed == 0
    assert {k: v for k, v in after.items() if k != "purge_runs"} == {k: v for k, v in before.items()
                                                                     if k != "purge_runs"}
    assert stored_files(settings) == files


def test_setting_and_releasing_a_legal_hold_writes_events(engine, settings):
    number = finished_case(engine, settings)
    for on in (True, False):
        with unit_of_work(engine) as s:
            case = s.scalar(select(Case).where(Case.number == number))
            retention.set_legal_hold(s, actor=LAWYER, case=case, on=on, reason="Az. 12 O 34/26")
    with Session(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        actions = s.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))
        assert list(actions)[-2:] == ["legal_hold_set", "legal_hold_released"]
        assert case.legal_hold is False and verify_chain(s, case=case).ok


def test_staff_may_not_set_a_legal_hold(engine, settings):
    number = finished_case(engine, settings)
    with unit_of_work(engine) as s, pytest.raises(PermissionDenied):
        retention.set_legal_hold(s, actor=STAFF, case=s.scalar(select(Case).where(Case.number == number)), on=True,
                                 reason="Az. 1")


def test_legal_hold_needs_a_reason(engine, settings):
    number = finished_case(engine, settings)
    with unit_of_work(engine) as s, pytest.raises(ValidationError, match="Grund"):
        retention.set_legal_hold(s, actor=LAWYER, case=s.scalar(select(Case).where(Case.number == number)), on=True,
                                 reason="   ")


def test_staff_may_not_purge(engine, settings):
    with pytest.raises(PermissionDenied):
        run(engine, settings, FIRST_PURGED, actor=STAFF)


def test_client_with_a_case_not_yet_due_is_left_alone(engine, settings):
    old = finished_case(engine, settings)
    shared = person_of(engine, old).id
    finished_case(engine, settings, how="open", person_id=shared, received_at=datetime(2026, 1, 5, tzinfo=UTC))
    report = run(engine, settings, FIRST_PURGED)
    assert (report.counts["cases"], report.counts["blocked"]) == (0, 1)
    assert person_of(engine, old).last_name == "Mustermann"


# --- dry run, idempotency, the run log ---------------------------------------------------------------------------


def test_dry_run_changes_nothing_and_predicts_the_real_run(engine, settings, partner):
    numbers = [finished_case(engine, settings, partner_id=partner, how=how, email=f"{how}@example.org")
               for how in ("paid", "cancelled", "open")]
    before, files = snapshot(engine), stored_files(settings)
    dry = run(engine, settings, FIRST_PURGED, dry_run=True)
    assert snapshot(engine) == before and stored_files(settings) == files
    real = run(engine, settings, FIRST_PURGED)
    assert dry.dry_run and dry.case_numbers == real.case_numbers == tuple(numbers[:2])
    assert dry.counts == real.counts


def test_cases_in_several_batches_are_all_purged(engine, settings, monkeypatch):
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    numbers = [finished_case(engine, settings, email=f"k{i}@example.org") for i in range(3)]
    report = run(engine, settings, FIRST_PURGED)
    assert report.case_numbers == tuple(numbers)
    assert {person_of(engine, n).email for n in numbers} == {""}


def test_second_run_changes_nothing(engine, settings, partner):
    finished_case(engine, settings, partner_id=partner)
    first = run(engine, settings, FIRST_PURGED)
    after_first, files = snapshot(engine), stored_files(settings)
    second = run(engine, settings, FIRST_PURGED + timedelta(days=1))
    after_second = snapshot(engine)
    assert first.changed > 0 and second.changed == 0
    assert {k: v for k, v in after_second.items() if k != "purge_runs"} == {
        k: v for k, v in after_first.items() if k != "purge_runs"}
    assert stored_files(settings) == files


def test_run_is_logged_with_its_counts(engine, settings, partner):
    finished_case(engine, settings, partner_id=partner)
    with Session(engine) as s:
        mails = s.scalar(select(func.count()).select_from(OutboxMessage))
    report = run(engine, settings, FIRST_PURGED)
    with Session(engine) as s:
        logged = s.scalars(select(PurgeRun)).one()
    assert logged.id == report.run_id and logged.finished_at is not None and logged.actor_name == "System"
    assert logged.day == "2026-03-16"
    assert logged.counts == report.counts == {"cases": 1, "documents": 1, "letters": 0, "invoices": 0,
                                              "settlements": 0, "notes": 1, "mails": mails, "inbound_mails": 0,
                                              "legal_hold": 0, "blocked": 0}


def test_a_dismissed_inbound_mail_is_blanked_the_retention_period_after_its_dismissal(engine, settings):
    """A mail staff dismissed belongs to no case: sender, subject, text and attachment names go RETENTION_MONTHS
    after the Berlin day of the dismissal, like a case closed that day; one dismissed later stays."""
    from core.inbound_mail import dismiss_inbound_mail, process_message
    from db.models import InboundAttachment, InboundMail
    from tests.integration.test_inbound_mail import PDF, mail

    with unit_of_work(engine) as s:
        for subject in ("Alt", "Neu"):
            process_message(s, settings=settings, raw=mail(subject, sender="erika@example.org",
                                                           attachments=(("Erika.pdf", PDF),)))
    with unit_of_work(engine) as s:
        for row in s.scalars(select(InboundMail)):
            dismiss_inbound_mail(s, actor=STAFF, settings=settings, mail_id=row.id, reason="Kein Fall")
            row.handled_at = CLOSED if row.subject == "Alt" else CLOSED + timedelta(days=1)
    assert run(engine, settings, LAST_KEPT).counts["inbound_mails"] == 0
    assert run(engine, settings, FIRST_PURGED, dry_run=True).counts["inbound_mails"] == 1
    assert run(engine, settings, FIRST_PURGED).counts["inbound_mails"] == 1
    with Session(engine) as s:
        rows = {r.id: r for r in s.scalars(select(InboundMail))}
        shown = sorted((r.sender, r.subject, r.body_excerpt != "", r.dismiss_reason) for r in rows.values())
        assert shown == [("", "", False, "Kein Fall"), ("erika@example.org", "Neu", True, "Kein Fall")]
        names = sorted(s.scalars(select(InboundAttachment.filename)))
        assert names == ["", "Erika.pdf"]
    assert run(engine, settings, FIRST_PURGED).counts["inbound_mails"] == 0  # blanked once
    assert run(engine, settings, FIRST_PURGED + timedelta(days=1)).counts["inbound_mails"] == 1  # "Neu", a day on


def test_dry_run_is_not_logged(engine, settings):
    run(engine, settings, FIRST_PURGED, dry_run=True)
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(PurgeRun)) == 0


def test_worker_purge_runs_once_per_berlin_day(engine, settings):
    finished_case(engine, settings)
    first = retention.purge_if_due(engine, settings=settings, at=FIRST_PURGED)
    again = retention.purge_if_due(engine, settings=settings, at=FIRST_PURGED + timedelta(hours=23))
    next_day = retention.purge_if_due(engine, settings=settings, at=FIRST_PURGED + timedelta(days=1))
    assert first.counts["cases"] == 1 and again is None and next_day.changed == 0
    with Session(engine) as s:
        assert s.scalars(select(PurgeRun.worker_day).order_by(PurgeRun.id)).all() == ["2026-03-16", "2026-03-17"]


def test_worker_skips_a_day_the_command_line_already_purged(engine, settings):
    run(engine, settings, FIRST_PURGED)
    assert retention.purge_if_due(engine, settings=settings, at=FIRST_PURGED + timedelta(hours=1)) is None


# --- command line --------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch, settings, tmp_path):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SECRETS_PATH", str(tmp_path / "none.toml"))
    monkeypatch.delenv("RETENTION_MONTHS", raising=False)


def test_cli_dry_run_lists_counts_and_case_numbers_and_changes_nothing(engine, settings, cli_env, capsys):
    closed = now() - timedelta(days=800)
    number = finished_case(engine, settings, closed_at=closed, received_at=closed - timedelta(days=10))
    before = snapshot(engine)
    assert main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Probelauf – es wurde nichts geändert." in out and "Fälle anonymisiert: 1" in out
    assert "Betroffene Fälle (1 von 1):" in out and f"  {number}" in out
    assert snapshot(engine) == before


def test_cli_purge_prints_counts_in_german(engine, settings, cli_env, capsys):
    closed = now() - timedelta(days=800)
    number = finished_case(engine, settings, closed_at=closed, received_at=closed - timedelta(days=10))
    assert main(["purge"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:3] == ["Löschlauf abgeschlossen:", "Fälle anonymisiert: 1", "Dokumente gelöscht: 1"]
    assert number not in out
    assert person_of(engine, number).email == ""


def test_cli_refuses_a_bad_retention_setting(engine, settings, cli_env, capsys, monkeypatch):
    monkeypatch.setenv("RETENTION_MONTHS", "0")
    assert main(["purge", "--dry-run"]) == 1
    assert "RETENTION_MONTHS" in capsys.readouterr().err
