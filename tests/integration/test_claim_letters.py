"""The claim letter on SQLite and PostgreSQL: approve and send archives the PDF, queues the insurer's mail with that
very file and the client's mail, moves the case to claim_sent; refusals change nothing; the worker sends it."""

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from core import attachments, claim_letters
from core.auth import actor_for
from core.cases import change_status
from core.documents import download_document
from core.enums import CaseStatus, DocumentKind, Role
from core.errors import (
    ConflictError,
    PermissionDenied,
    TransitionError,
    ValidationError,
)
from core.i18n import t
from core.permissions import SYSTEM
from core.worker import run_worker
from db.engine import unit_of_work
from db.models import (
    Case,
    CaseEvent,
    Document,
    DocumentVersion,
    Insurer,
    OutboxMessage,
    User,
)
from tests.factories import make_broker, make_case, make_partner, make_user

INSURER_MAIL = "schaden@huk.example"


@pytest.fixture
def world(engine):
    partner = make_partner(engine, "Autoglas Nord")
    broker = make_broker(engine)
    ids = {
        "staff": make_user(engine, "staff", Role.STAFF),
        "lawyer": make_user(engine, "lawyer", Role.LAWYER),
        "manager": make_user(engine, "manager", Role.MANAGER),
        "partner": make_user(engine, "glas1", Role.PARTNER, partner_id=partner),
        "broker": make_user(engine, "broker1", Role.BROKER, broker_id=broker),
    }
    number = make_case(engine, partner_id=partner, broker_id=broker, amount_claimed_cents=123_456)
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        case.insurer_claim_number = "KS-4711"
        case.client.email = "erika@example.org"
        s.scalar(select(Insurer).where(Insurer.name == "HUK-COBURG")).email = INSURER_MAIL
        actors = {k: actor_for(s.get(User, v)) for k, v in ids.items()}
    return {"number": number, **actors}


def send(engine, settings, actor, number, **kwargs):
    with unit_of_work(engine) as s:
        return claim_letters.send_claim_letter(s, actor=actor, settings=settings, number=number, **kwargs)


def snapshot(engine, number):
    """What a refused send must leave untouched."""
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        return (case.status, case.version, case.event_count,
                s.scalar(select(func.count()).select_from(OutboxMessage)),
                s.scalar(select(func.count()).select_from(DocumentVersion)))


def test_preview_is_the_template_filled_with_the_case(engine, world):
    with unit_of_work(engine) as s:
        draft = claim_letters.preview_claim_letter(s, actor=world["staff"], number=world["number"])
    assert draft.recipient == INSURER_MAIL
    assert "KS-4711" in draft.subject and world["number"] in draft.subject
    assert "Erika Muster" in draft.paragraphs[1] and "1.234,56 €" in draft.paragraphs[1]
    assert not draft.signed


def test_sending_archives_queues_and_moves_to_claim_sent(engine, settings, world):
    number = world["number"]
    sent = send(engine, settings, world["staff"], number)
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        assert case.status == CaseStatus.CLAIM_SENT
        assert case.claim_letter_sent_at is not None and case.throughput_hours is not None
        doc = s.scalar(select(Document).where(Document.case_id == case.id))
        assert doc.kind == DocumentKind.CLAIM_LETTER
        mails = s.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id)
                          .order_by(OutboxMessage.id)).all()
        to_insurer = [m for m in mails if m.template_key == "claim_letter"]
        assert [m.recipient for m in to_insurer] == [INSURER_MAIL]
        assert to_insurer[0].attachments == [{"kind": "document_version", "ref": sent.document_version_id,
                                              "filename": f"Forderungsschreiben-{number}.pdf"}]
        assert "claim_letter_sent" in {m.template_key for m in mails if m.recipient == "erika@example.org"}
        events = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()
    changes = [(e.details["from"], e.details["to"]) for e in events if e.action == "status_changed"]
    assert changes == [("received", "review"), ("review", "claim_sent")]
    letter = next(e for e in events if e.action == "claim_letter_sent")
    assert (letter.actor_name, letter.details["approved_by"], letter.details["signed"]) == ("Staff", "Staff", False)


def test_from_review_only_one_status_change_is_written(engine, settings, world):
    number = world["number"]
    with unit_of_work(engine) as s:
        change_status(s, actor=world["staff"], number=number, to=CaseStatus.REVIEW)
    send(engine, settings, world["staff"], number)
    with unit_of_work(engine) as s:
        case_id = s.scalar(select(Case.id).where(Case.number == number))
        to = [e.details["to"] for e in s.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.action == "status_changed").order_by(CaseEvent.seq))]
    assert to == ["review", "claim_sent"]


def test_lawyers_approval_is_recorded_as_signed(engine, settings, world):
    sent = send(engine, settings, world["lawyer"], world["number"])
    with unit_of_work(engine) as s:
        event = s.scalar(select(CaseEvent).where(CaseEvent.action == "claim_letter_sent"))
        pdf = download_document(s, actor=world["lawyer"], settings=settings, version_id=sent.document_version_id)
    assert event.details["signed"] is True
    assert "gezeichnet" in PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()


def test_stored_pdf_names_case_claim_amount_and_client(engine, settings, world):
    sent = send(engine, settings, world["staff"], world["number"])
    with unit_of_work(engine) as s:
        pdf = download_document(s, actor=world["staff"], settings=settings, version_id=sent.document_version_id)
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    for expected in (world["number"], "KS-4711", "1.234,56 €", "Erika Muster", INSURER_MAIL):
        assert expected in text


def test_attachment_is_exactly_the_archived_document(engine, settings, world):
    sent = send(engine, settings, world["staff"], world["number"])
    with unit_of_work(engine) as s:
        spec = s.get(OutboxMessage, sent.outbox_id).attachments[0]
        rendered = attachments.render_attachment(s, actor=SYSTEM, spec=spec, settings=settings)
        stored = download_document(s, actor=world["staff"], settings=settings, version_id=sent.document_version_id)
    assert (rendered.data, rendered.mime, rendered.filename) == (
        stored.data, "application/pdf", f"Forderungsschreiben-{world['number']}.pdf")


def test_worker_sends_it_and_the_delivery_record_shows_the_message_id(engine, settings, world):
    number = world["number"]
    send(engine, settings, world["staff"], number)
    with unit_of_work(engine) as s:
        before = claim_letters.delivery_record(s, actor=world["staff"], number=number)
    assert (before.recipient, before.message_id, before.sent_at) == (INSURER_MAIL, "", None)
    run_worker(engine, settings, once=True)
    with unit_of_work(engine) as s:
        record = claim_letters.delivery_record(s, actor=world["staff"], number=number)
    assert record.sent_at is not None and record.message_id.startswith("<")
    emls = [p.read_bytes() for p in (settings.data_dir / "mail").glob("*.eml")]
    letter = [b for b in emls if record.message_id.encode() in b]
    assert len(letter) == 1 and b"Forderungsschreiben-" in letter[0]


def test_delivery_record_is_none_before_sending(engine, world):
    with unit_of_work(engine) as s:
        assert claim_letters.delivery_record(s, actor=world["staff"], number=world["number"]) is None


def test_no_amount_is_refused(engine, settings, world):
    with unit_of_work(engine) as s:
        s.scalar(select(Case).where(Case.number == world["number"])).amount_claimed_cents = None
    before = snapshot(engine, world["number"])
    with pytest.raises(ValidationError, match=t("claim.no_amount")):
        send(engine, settings, world["staff"], world["number"])
    assert snapshot(engine, world["number"]) == before


def test_no_insurer_email_is_refused(engine, settings, world):
    with unit_of_work(engine) as s:
        s.scalar(select(Insurer).where(Insurer.name == "HUK-COBURG")).email = ""
    before = snapshot(engine, world["number"])
    with pytest.raises(ValidationError, match=t("claim.no_insurer_email", insurer="HUK-COBURG")):
        send(engine, settings, world["staff"], world["number"])
    assert snapshot(engine, world["number"]) == before


def test_wrong_status_is_refused(engine, settings, world):
    send(engine, settings, world["staff"], world["number"])
    before = snapshot(engine, world["number"])
    with pytest.raises(TransitionError):
        send(engine, settings, world["staff"], world["number"])
    with pytest.raises(TransitionError), unit_of_work(engine) as s:
        claim_letters.preview_claim_letter(s, actor=world["staff"], number=world["number"])
    assert snapshot(engine, world["number"]) == before


@pytest.mark.parametrize("who", ["partner", "broker", "manager"])
def test_roles_without_the_right_are_refused(engine, settings, world, who):
    before = snapshot(engine, world["number"])
    with pytest.raises(PermissionDenied):
        send(engine, settings, world[who], world["number"])
    assert snapshot(engine, world["number"]) == before


def test_stale_version_is_refused(engine, settings, world):
    before = snapshot(engine, world["number"])
    with pytest.raises(ConflictError):
        send(engine, settings, world["staff"], world["number"], expected_version=before[1] - 1)
    assert snapshot(engine, world["number"]) == before
