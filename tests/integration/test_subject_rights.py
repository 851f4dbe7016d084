"""Data-subject rights on SQLite and PostgreSQL (§10): search, export (JSON) of everything held, erasure on request
with legal hold and open cases skipped, booking records kept pseudonymised, redacted events with an intact hash
chain, the access log, the legal basis per person, the migration of old chains and the command line."""

import json
from datetime import date, timedelta

import pytest
from alembic import command
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from core import retention, subject_rights
from core.cli import main
from core.enums import CaseStatus, LegalBasis, PartnerKind, Role
from core.errors import NotFound, PermissionDenied, ValidationError
from core.events import REDACTED, verify_chain
from core.i18n import t
from core.permissions import Actor
from core.timeutil import now, to_berlin
from db.engine import unit_of_work
from db.migrate import alembic_config
from db.models import (
    AccessLog,
    Case,
    CaseEvent,
    Document,
    DocumentVersion,
    Invoice,
    Person,
)
from tests.factories import make_partner
from tests.integration.test_retention import (
    FIRST_PURGED,
    finished_case,
    run,
    snapshot,
    stored_files,
)

ADMIN = Actor(user_id=None, username="admin1", display_name="Ada Admin", role=Role.ADMIN)
STAFF = Actor(user_id=None, username="clerk", display_name="Clara Clerk", role=Role.STAFF)
WHY = "Antrag per Brief vom 01.12.2026"


@pytest.fixture
def partner(engine):
    return make_partner(engine, "Autoglas Nord", PartnerKind.GLASS)


def erase(engine, settings, *, email="erika@example.org", dry_run=False, **kw):
    with unit_of_work(engine) as s:
        return subject_rights.erase_subject(s, actor=ADMIN, settings=settings, email=email, reason=WHY,
                                            dry_run=dry_run, **kw)


def export(engine, *, email="erika@example.org", **kw):
    with unit_of_work(engine) as s:
        return subject_rights.subject_export(s, actor=ADMIN, email=email, reason=WHY, **kw)


def subject_log(engine) -> list[tuple[str, str, str]]:
    with Session(engine) as s:
        return [tuple(r) for r in s.execute(select(AccessLog.username, AccessLog.action, AccessLog.detail)
                                            .where(AccessLog.object_type == "subject").order_by(AccessLog.id))]


def events_of(engine, number) -> list[CaseEvent]:
    with Session(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        rows = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()
        s.expunge_all()
        return list(rows)


def chain(engine, number):
    with Session(engine) as s:
        return verify_chain(s, case=s.scalar(select(Case).where(Case.number == number)))


# --- search ----------------------------------------------------------------------------------------------------


def test_search_by_email_is_exact_and_ignores_case(engine, settings):
    number = finished_case(engine, settings, email="Erika@Example.org")
    finished_case(engine, settings, email="erika@example.org.evil")
    with unit_of_work(engine) as s:
        hits = subject_rights.find_subjects(s, actor=ADMIN, query="ERIKA@example.ORG")
    assert [(h.name, h.email, h.cases) for h in hits] == [("Erika Mustermann", "Erika@Example.org",
                                                         ((number, "closed"),))]


def test_search_by_name_prefix_and_by_first_and_last_name(engine, settings):
    finished_case(engine, settings)
    with unit_of_work(engine) as s:
        assert len(subject_rights.find_subjects(s, actor=ADMIN, query="muster")) == 1
        assert len(subject_rights.find_subjects(s, actor=ADMIN, query="Erika Must")) == 1
        assert subject_rights.find_subjects(s, actor=ADMIN, query="Max Must") == []
        assert subject_rights.find_subjects(s, actor=ADMIN, query="m%") == []  # no wildcard injection


def test_search_is_logged_without_the_query(engine, settings):
    finished_case(engine, settings)
    with unit_of_work(engine) as s:
        subject_rights.find_subjects(s, actor=ADMIN, query="erika@example.org")
    assert subject_log(engine) == [("admin1", "search", "hits=1")]


def test_staff_may_neither_search_nor_export_nor_erase(engine, settings):
    finished_case(engine, settings)
    with unit_of_work(engine) as s:
        with pytest.raises(PermissionDenied):
            subject_rights.find_subjects(s, actor=STAFF, query="muster")
        with pytest.raises(PermissionDenied):
            subject_rights.subject_export(s, actor=STAFF, email="erika@example.org", reason=WHY)
        with pytest.raises(PermissionDenied):
            subject_rights.erase_subject(s, actor=STAFF, settings=settings, email="erika@example.org", reason=WHY)


# --- export ----------------------------------------------------------------------------------------------------


def test_export_holds_everything_on_the_person(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    with unit_of_work(engine) as s:  # a view of the case, so the access log has an entry about it
        from core.cases import open_case
        open_case(s, actor=STAFF, number=number)
    data = json.loads(export(engine).to_json())
    assert set(data) == {"format", "generated_at", "generated_by", "request", "persons", "cases", "other_mails",
                         "inbound_mails", "client_links"}
    person = data["persons"][0]
    assert (person["last_name"], person["email"], person["legal_basis"]) == ("Mustermann", "erika@example.org",
                                                                             "contract")
    case = data["cases"][0]
    assert (case["number"], case["status"], case["plate"], case["incident_date"]) == (
        number, "closed", "B-EM 4711", "2024-02-28")
    assert case["received_at"] == "2024-03-01T08:00:00+00:00"
    assert [e["action"] for e in case["events"]][:2] == ["case_created", "note_added"]
    assert [n["body"] for n in case["notes"]] == ["Frau Mustermann rief an"]
    assert sorted(v["original_name"] for d in case["documents"] for v in d["versions"]) == [
        "Forderung_Mustermann.pdf", "Mustermann_Scheibe.png", "Rechnung_Mustermann.pdf"]
    assert [x["title"] for x in case["tasks"]] == ["Frau Mustermann zurückrufen"]
    assert [q["subject"] for q in case["insurer_queries"]] == ["Fahrzeugschein von Frau Mustermann"]
    assert (case["survey"]["score"], case["survey"]["comment"]) == (9, "Danke, Erika Mustermann")
    assert [c["caller"] for c in case["callbacks"]] == ["client"]
    assert [a["decline_reason"] for a in case["assignments"]] == ["Kundin nicht erreichbar"]
    assert case["invoice"]["invoice_number"] == "4711"
    assert case["mails"] and all(m["recipient"] == "erika@example.org" for m in case["mails"])
    assert [(e["username"], e["action"]) for e in case["access_log"]] == [("clerk", "view")]


def test_export_is_logged_with_reason_and_counts(engine, settings):
    finished_case(engine, settings)
    result = export(engine, email="ERIKA@example.org")
    assert (result.persons, result.cases) == (1, 1)
    assert subject_log(engine) == [("admin1", "export", f"reason={WHY}; persons=1; cases=1")]


def test_export_needs_a_reason_and_logs_nothing_without(engine, settings):
    finished_case(engine, settings)
    with pytest.raises(ValidationError, match="Grund"), unit_of_work(engine) as s:
        subject_rights.subject_export(s, actor=ADMIN, email="erika@example.org", reason="   ")
    assert subject_log(engine) == []


def test_export_of_an_unknown_address_is_a_clear_error(engine, settings):
    with pytest.raises(NotFound, match="Keine Person gefunden: nobody@example.org"):
        export(engine, email="nobody@example.org")


def test_export_pdf_is_a_pdf_with_the_person(engine, settings):
    finished_case(engine, settings)
    with unit_of_work(engine) as s:
        pdf = subject_rights.export_pdf(subject_rights.subject_export(s, actor=ADMIN, email="erika@example.org",
                                                                      reason=WHY))
    assert pdf.startswith(b"%PDF")


# --- erasure ---------------------------------------------------------------------------------------------------


def test_erasure_of_a_closed_case_erases_it_now_like_the_purge(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    result = erase(engine, settings)
    assert (result.erased_cases, result.skipped, result.persons_pseudonymised) == ((number,), (), 1)
    with Session(engine) as s:
        person = s.scalar(select(Person))
        case = s.scalar(select(Case))
        assert (person.first_name, person.last_name, person.email) == ("", f"P-{person.id:06d}", "")
        assert (case.plate, case.incident_description, case.status_reason) == ("", "", "")
        kept = s.execute(select(Document.kind, DocumentVersion.original_name).join(DocumentVersion)
                         .order_by(Document.kind)).all()
        assert [tuple(k) for k in kept] == [("claim_letter", "claim_letter-v1.pdf"), ("invoice", "invoice-v1.pdf")]
        assert s.scalar(select(Invoice.invoice_number)) == "4711"  # booking record kept (pseudonymised person)
    assert events_of(engine, number)[-1].action == "subject_erased"


def test_erasure_deletes_the_cases_share_links(engine, settings, partner):
    from core import share_links
    from db.models import ShareLink

    finished_case(engine, settings, partner_id=partner)
    with unit_of_work(engine) as s:
        version_id = s.scalar(select(DocumentVersion.id).join(Document).where(Document.kind == "invoice"))  # kept
        share_links.create_share_link(s, actor=STAFF, settings=settings, version_id=version_id,
                                      recipient_kind="insurer", recipient="Erika Mustermann (Versicherung)",
                                      purpose="Rechnung", days=7)
    erase(engine, settings)
    with Session(engine) as s:
        assert s.scalar(select(ShareLink)) is None


def test_nothing_stored_mentions_the_person_after_erasure_not_even_the_events(engine, settings, partner):
    finished_case(engine, settings, partner_id=partner)
    erase(engine, settings)
    dump = snapshot(engine)
    dump.pop("access_log")  # holds the reason the admin typed (accountability), checked in its own test
    assert not [table for table, rows in dump.items()
                if any("mustermann" in r.lower() or "b-em 4711" in r.lower() for r in rows)]  # the name key too


def test_chain_verifies_after_erasure_and_redacted_fields_hold_only_the_marker(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner, how="refused")  # a status change with a reason
    before = [(e.id, e.hash) for e in events_of(engine, number)]
    erase(engine, settings)
    events = events_of(engine, number)
    assert [(e.id, e.hash) for e in events[:len(before)]] == before  # no hash rewritten
    redacted = [e for e in events if e.redacted_at is not None]
    assert {e.action for e in redacted} >= {"task_created", "document_uploaded", "status_changed"}
    assert all(e.details[k] == REDACTED for e in redacted for k in e.redacted_digests)
    assert chain(engine, number).ok


def test_tampering_with_an_event_is_still_detected_after_erasure(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    erase(engine, settings)
    events = events_of(engine, number)
    plain = next(e for e in events if e.redacted_at is None and e.seq > 1)
    with engine.begin() as conn:
        conn.execute(update(CaseEvent).where(CaseEvent.id == plain.id).values(actor_name="Mallory"))
    assert chain(engine, number).first_broken_seq == plain.seq


def test_a_non_personal_field_of_a_redacted_event_is_still_covered(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    erase(engine, settings)
    upload = next(e for e in events_of(engine, number) if e.action == "document_uploaded")
    with engine.begin() as conn:
        conn.execute(update(CaseEvent).where(CaseEvent.id == upload.id)
                     .values(details={**upload.details, "size": upload.details["size"] + 1}))
    assert chain(engine, number).first_broken_seq == upload.seq


def test_text_put_into_a_redacted_field_is_detected(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    erase(engine, settings)
    upload = next(e for e in events_of(engine, number) if e.action == "document_uploaded")
    with engine.begin() as conn:
        conn.execute(update(CaseEvent).where(CaseEvent.id == upload.id)
                     .values(details={**upload.details, "name": "gefälscht.pdf"}))
    assert chain(engine, number).first_broken_seq == upload.seq


def test_photo_file_is_deleted_after_commit_and_kept_when_the_erasure_rolls_back(engine, settings, partner):
    finished_case(engine, settings, partner_id=partner)
    files = stored_files(settings)
    with pytest.raises(RuntimeError), unit_of_work(engine) as s:
        subject_rights.erase_subject(s, actor=ADMIN, settings=settings, email="erika@example.org", reason=WHY)
        raise RuntimeError("crash before commit")
    assert stored_files(settings) == files
    with Session(engine) as s:
        assert s.scalar(select(Person.last_name)) == "Mustermann"
    erase(engine, settings)
    assert len(files - stored_files(settings)) == 1 and len(stored_files(settings)) == 2


def test_open_case_is_refused_with_the_legal_ground_and_the_person_kept(engine, settings):
    closed = finished_case(engine, settings)
    open_ = finished_case(engine, settings, how="open")
    result = erase(engine, settings)
    assert result.erased_cases == (closed,)
    assert [(s.number, s.reason) for s in result.skipped] == [(open_, "open")]
    assert "Art. 17 Abs. 3 lit. b und e DSGVO" in result.skipped[0].message
    assert "Eingang" in result.skipped[0].message  # the open case's status, in German
    with Session(engine) as s:
        names = {c.number: (c.plate, c.client.last_name) for c in s.scalars(select(Case))}
    assert names[open_] == ("B-EM 4711", "Mustermann")  # the open case keeps everything
    assert names[closed][0] == ""  # the closed one lost its data (its own person row is pseudonymised)


def test_shared_person_row_stays_while_an_open_case_needs_it(engine, settings):
    open_ = finished_case(engine, settings, how="open")
    with Session(engine) as s:
        person_id = s.scalar(select(Case.client_id).where(Case.number == open_))
    closed = finished_case(engine, settings, person_id=person_id)
    result = erase(engine, settings)
    assert result.erased_cases == (closed,) and result.persons_pseudonymised == 0
    with Session(engine) as s:
        assert s.get(Person, person_id).last_name == "Mustermann"
        assert s.scalar(select(Case.plate).where(Case.number == closed)) == ""
    assert t_skip(result) == [(open_, "open")]


def t_skip(result):
    return [(s.number, s.reason) for s in result.skipped]


def test_case_under_legal_hold_is_skipped(engine, settings):
    number = finished_case(engine, settings)
    with unit_of_work(engine) as s:
        retention.set_case_legal_hold(s, actor=ADMIN, number=number, on=True, reason="Rechtsstreit")
    result = erase(engine, settings)
    assert (result.erased_cases, t_skip(result)) == ((), [(number, "legal_hold")])
    assert "Aufbewahrungssperre" in result.skipped[0].message
    with Session(engine) as s:
        assert s.scalar(select(Person.last_name)) == "Mustermann"


def test_dry_run_changes_nothing_but_is_logged(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    before, files = snapshot(engine), stored_files(settings)
    result = erase(engine, settings, dry_run=True)
    after = snapshot(engine)
    assert result.erased_cases == (number,) and result.dry_run
    assert {k: v for k, v in after.items() if k != "access_log"} == {k: v for k, v in before.items()
                                                                     if k != "access_log"}
    assert stored_files(settings) == files
    assert [a for _, a, _ in subject_log(engine)] == ["erase_dry_run"]


def test_erasure_is_logged_with_who_why_and_counts(engine, settings, partner):
    finished_case(engine, settings, partner_id=partner)
    finished_case(engine, settings, how="open")
    erase(engine, settings)
    [(who, action, detail)] = subject_log(engine)
    assert (who, action) == ("admin1", "erase")
    assert detail.startswith(f"reason={WHY}; erased=1; skipped=1; persons=1; cases=1, documents=1, ")


def test_second_erasure_changes_nothing(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    erase(engine, settings)
    with Session(engine) as s:
        person_id = s.scalar(select(Person.id))
    result = erase(engine, settings, email=None, person_ids=[person_id])
    assert (result.erased_cases, result.unchanged_cases) == ((), (number,))


def test_mails_received_from_the_person_are_exported_and_unfiled_ones_blanked_on_erasure(engine, settings):
    """Mails from the subject's address that no case took (held, dismissed) are in the export and lose sender,
    subject, text and attachments on erasure (the held one is closed, its file deleted after the commit); another
    sender's held mail stays as it was; a dry run counts them and changes nothing."""
    from core.inbound_mail import dismiss_inbound_mail, inbound_dir, process_message
    from db.models import InboundAttachment, InboundMail
    from tests.integration.test_inbound_mail import PDF, mail

    finished_case(engine, settings)
    with unit_of_work(engine) as s:
        for subject, sender in (("Frage zu meinem Schaden", "Erika@Example.org"), ("Nachtrag", "erika@example.org"),
                                ("Angebot", "info@werbung.example")):
            process_message(s, settings=settings, raw=mail(subject, sender=sender, body="Viele Grüße, Erika",
                                                           attachments=(("Foto_Erika.pdf", PDF),)))
    with unit_of_work(engine) as s:
        second = s.scalar(select(InboundMail.id).where(InboundMail.subject == "Nachtrag"))
        dismiss_inbound_mail(s, actor=STAFF, settings=settings, mail_id=second, reason="Kein Fall")
    data = json.loads(export(engine).to_json())
    assert [(m["subject"], m["attachments"], m["mail_status"]) for m in data["inbound_mails"]] == [
        ("Frage zu meinem Schaden", ["Foto_Erika.pdf"], "nicht zugeordnet"),
        ("Nachtrag", ["Foto_Erika.pdf"], "verworfen")]
    assert subject_rights.export_pdf(subject_rights.SubjectExport(data, 1, 1)).startswith(b"%PDF")
    before = snapshot(engine)
    preview = erase(engine, settings, dry_run=True)
    assert preview.counts["inbound_mails"] == 2
    assert {k: v for k, v in snapshot(engine).items() if k != "access_log"} == {
        k: v for k, v in before.items() if k != "access_log"}
    assert t("subject.inbound_would_erase", count=2) in preview.lines()
    assert len(list(inbound_dir(settings).iterdir())) == 2  # held: Erika's first mail, the other sender's
    result = erase(engine, settings)
    assert result.counts["inbound_mails"] == 2
    with Session(engine) as s:
        mails = {m.id: m for m in s.scalars(select(InboundMail))}
        blanked = [m for m in mails.values() if m.subject == ""]
        assert {(m.sender, m.sender_name, m.body_excerpt, m.status) for m in blanked} == {("", "", "", "dismissed")}
        assert len(blanked) == 2 and all(m.message_key for m in blanked)
        assert {m.dismiss_reason for m in blanked} == {"Kein Fall", t("inmail.erased_reason")}
        names = dict(s.execute(select(InboundAttachment.mail_id, InboundAttachment.filename)).all())
        assert sorted(names.values()) == ["", "", "Foto_Erika.pdf"]  # the other sender's attachment stays
        other = next(m for m in mails.values() if m.subject == "Angebot")
        assert (other.sender, other.status) == ("info@werbung.example", "unassigned")
    assert len(list(inbound_dir(settings).iterdir())) == 1  # only the other sender's held file is left
    assert "inbound_mails=2" in next(d for u, a, d in subject_log(engine) if a == "erase")


def test_unfiled_mails_stay_while_an_open_case_keeps_the_person(engine, settings):
    from core.inbound_mail import process_message
    from tests.integration.test_inbound_mail import mail

    finished_case(engine, settings, how="open")
    with unit_of_work(engine) as s:
        process_message(s, settings=settings, raw=mail("Wie ist der Stand?", sender="erika@example.org"))
    result = erase(engine, settings)
    assert result.counts["inbound_mails"] == 0 and result.skipped
    assert export(engine).data["inbound_mails"][0]["subject"] == "Wie ist der Stand?"


def test_unknown_address_erases_nothing(engine, settings):
    with pytest.raises(NotFound):
        erase(engine, settings, email="nobody@example.org")


# --- the purge redacts events too ------------------------------------------------------------------------------


def test_purge_redacts_event_free_texts_and_the_chain_stays_intact(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    run(engine, settings, FIRST_PURGED)
    assert not [e for e in events_of(engine, number) if "Mustermann" in repr(e.details)]
    assert chain(engine, number).ok
    assert run(engine, settings, FIRST_PURGED + timedelta(days=1)).changed == 0


def test_purge_redacts_events_of_cases_erased_before_redaction_existed(engine, settings, partner):
    number = finished_case(engine, settings, partner_id=partner)
    run(engine, settings, FIRST_PURGED)
    upload = next(e for e in events_of(engine, number) if e.action == "document_uploaded")
    with engine.begin() as conn:  # as an erasure before this change left it: the text in the event
        conn.execute(text("UPDATE case_events SET details = :d, redacted_digests = NULL, redacted_at = NULL "
                          "WHERE id = :i"), {"d": json.dumps({**upload.details, "name": "Mustermann.png"}),
                                             "i": upload.id})
    report = run(engine, settings, FIRST_PURGED + timedelta(days=1))
    assert report.case_numbers == (number,)
    assert not [e for e in events_of(engine, number) if "Mustermann" in repr(e.details)]


# --- legal basis -----------------------------------------------------------------------------------------------


def test_legal_basis_change_is_recorded_with_date_and_event(engine, settings):
    number = finished_case(engine, settings, how="open")
    day = to_berlin(now()).date() - timedelta(days=3)
    with unit_of_work(engine) as s:
        view = subject_rights.set_legal_basis(s, actor=STAFF, number=number, basis="consent", since=day)
    assert (view.basis, view.since) == (LegalBasis.CONSENT, day)
    with unit_of_work(engine) as s:
        shown = subject_rights.case_legal_basis(s, actor=STAFF, number=number)
    assert (shown.basis, shown.since, shown.may_change) == (LegalBasis.CONSENT, day, True)
    last = events_of(engine, number)[-1]
    assert (last.action, last.details) == ("legal_basis_changed",
                                           {"from": "contract", "to": "consent", "since": day.isoformat()})
    assert chain(engine, number).ok


def test_legal_basis_date_in_the_future_is_refused(engine, settings):
    number = finished_case(engine, settings, how="open")
    with pytest.raises(ValidationError, match="Zukunft"), unit_of_work(engine) as s:
        subject_rights.set_legal_basis(s, actor=STAFF, number=number, basis="consent",
                                       since=to_berlin(now()).date() + timedelta(days=1))


def test_legal_basis_is_hidden_from_partners_and_read_only_for_managers(engine, settings, partner):
    number = finished_case(engine, settings, how="open", partner_id=partner)
    partner_actor = Actor(user_id=None, username="p", display_name="P", role=Role.PARTNER, partner_id=partner)
    manager = Actor(user_id=None, username="m", display_name="M", role=Role.MANAGER)
    with unit_of_work(engine) as s:
        assert subject_rights.case_legal_basis(s, actor=partner_actor, number=number) is None
        assert subject_rights.case_legal_basis(s, actor=manager, number=number).may_change is False
        with pytest.raises(PermissionDenied):
            subject_rights.set_legal_basis(s, actor=manager, number=number, basis="consent", since=date(2026, 1, 1))


def test_legal_basis_of_an_erased_person_cannot_be_changed(engine, settings):
    number = finished_case(engine, settings)
    erase(engine, settings)
    with pytest.raises(ValidationError, match="pseudonymisiert"), unit_of_work(engine) as s:
        subject_rights.set_legal_basis(s, actor=ADMIN, number=number, basis="consent", since=date(2026, 1, 1))


# --- the migration ---------------------------------------------------------------------------------------------


def test_migration_rehashes_intact_chains_and_keeps_earlier_tampering_visible(engine, settings):
    good = finished_case(engine, settings, email="g@example.org")
    bad = finished_case(engine, settings, email="b@example.org")
    redacted = finished_case(engine, settings)
    erase(engine, settings)  # erika's chain has redacted events
    hashes = [e.hash for e in events_of(engine, good)]
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "db2b9c2e2bb0")
    assert [e.hash for e in _raw_events(engine, good)] != hashes  # the old formula
    with engine.begin() as conn:  # tampering under the old formula, before the upgrade
        conn.execute(text("UPDATE case_events SET actor_name = 'Mallory' WHERE seq = 3 AND case_id = "
                          "(SELECT id FROM cases WHERE number = :n)"), {"n": bad})
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert [e.hash for e in events_of(engine, good)] == hashes  # same formula, same hashes
    assert chain(engine, good).ok
    assert chain(engine, redacted).ok  # the downgrade folded the marker into the old hashes
    assert chain(engine, bad).first_broken_seq == 3


def _raw_events(engine, number):
    with engine.connect() as conn:
        return conn.execute(text("SELECT e.hash FROM case_events e JOIN cases c ON c.id = e.case_id "
                                 "WHERE c.number = :n ORDER BY e.seq"), {"n": number}).all()


# --- command line ----------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch, settings, tmp_path):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SECRETS_PATH", str(tmp_path / "none.toml"))


def test_cli_exports_json_by_suffix_and_logs_it(engine, settings, cli_env, tmp_path, capsys):
    number = finished_case(engine, settings)
    target = tmp_path / "auskunft.json"
    assert main(["export-subject", "--email", "ERIKA@example.org", "-o", str(target)]) == 0
    data = json.loads(target.read_text(encoding="utf-8"))
    assert [c["number"] for c in data["cases"]] == [number]
    assert "Auskunft geschrieben" in capsys.readouterr().out
    assert subject_log(engine) == [("system", "export",
                                    "reason=Auskunftsersuchen (Kommandozeile); persons=1; cases=1")]


def test_cli_exports_pdf_with_format(engine, settings, cli_env, tmp_path):
    finished_case(engine, settings)
    target = tmp_path / "auskunft.bin"
    assert main(["export-subject", "--email", "erika@example.org", "-o", str(target), "--format", "pdf"]) == 0
    assert target.read_bytes().startswith(b"%PDF")


def test_cli_unknown_person_fails_with_a_message_and_writes_nothing(engine, settings, cli_env, tmp_path, capsys):
    target = tmp_path / "x.json"
    assert main(["export-subject", "--email", "nobody@example.org", "-o", str(target)]) == 1
    assert "Keine Person gefunden: nobody@example.org" in capsys.readouterr().err
    assert not target.exists()
    assert main(["erase-subject", "--email", "nobody@example.org", "--reason", "x"]) == 1


def test_cli_erase_dry_run_then_erase(engine, settings, cli_env, capsys):
    number = finished_case(engine, settings)
    open_ = finished_case(engine, settings, how="open")
    assert main(["erase-subject", "--email", "erika@example.org", "--reason", WHY, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Vorschau") and number in out and open_ in out
    with Session(engine) as s:
        assert s.scalar(select(Case.plate).where(Case.number == number)) == "B-EM 4711"
    assert main(["erase-subject", "--email", "erika@example.org", "--reason", WHY]) == 0
    assert capsys.readouterr().out.startswith("Gelöscht")
    with Session(engine) as s:
        assert s.scalar(select(Case.plate).where(Case.number == number)) == ""
        assert s.scalar(select(Case.status).where(Case.number == open_)) == CaseStatus.RECEIVED
