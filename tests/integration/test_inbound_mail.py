"""Inbound insurer mail against a real Dovecot on loopback, on SQLite and PostgreSQL: filed by case or claim number,
held when no case, several cases or an unknown sender; attachments as LETTER documents through the upload checks;
each message once (twice delivered, restart, two workers at once); staff assign and dismiss; IMAP down."""

from __future__ import annotations

import dataclasses
import imaplib
import logging
import os
import ssl
import threading
import uuid
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from core import cli, documents
from core.auth import actor_for
from core.cases import NewCase, change_status, create_case
from core.enums import CaseStatus, DamageType, DocumentKind, Role
from core.errors import NotFound, ValidationError
from core.i18n import t
from core.imap_fetch import KEYWORD, connect, fetch_mail
from core.inbound_mail import (
    assign_inbound_mail,
    dismiss_inbound_mail,
    inbound_dir,
    list_unassigned_mail,
    process_message,
)
from core.permissions import SYSTEM
from core.settings import ImapSettings
from core.worker import run_worker
from db.engine import make_engine, unit_of_work
from db.models import (
    Case,
    CaseEvent,
    HoldReason,
    InboundMail,
    InboundMailStatus,
    Insurer,
    InsurerQuery,
    Task,
    User,
    WorkerHeartbeat,
)
from tests.factories import make_user
from tests.imapserver import Dovecot
from tests.mailserver import free_port
from tests.unit.test_upload_validation import make_pdf

PDF = make_pdf("Schreiben der Versicherung", "Bitte reichen Sie die Rechnung nach.")
INSURER = "schaden@huk-coburg.example"


@pytest.fixture(scope="module")
def dovecot():
    server = Dovecot()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def mailbox(dovecot):
    return dovecot.add_mailbox()


@pytest.fixture
def imap_settings(settings, dovecot, mailbox):
    return dataclasses.replace(settings, imap=ImapSettings(
        host="127.0.0.1", port=dovecot.port, security="none", user=mailbox.user, password=mailbox.password))


def make_insurer_case(engine, *, claim: str = "", status: CaseStatus = CaseStatus.RECEIVED,
                      client_email: str = "erika@example.org") -> str:
    with unit_of_work(engine) as s:
        case = create_case(s, actor=SYSTEM, data=NewCase(
            damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name="Muster",
            client_email=client_email, postal_code="10115", insurer_claim_number=claim))
        s.scalar(select(Insurer).where(Insurer.name == "HUK-COBURG")).email = INSURER
        number = case.number
    for step in {CaseStatus.CLAIM_SENT: (CaseStatus.REVIEW, CaseStatus.CLAIM_SENT)}.get(status, ()):
        with unit_of_work(engine) as s:
            change_status(s, actor=SYSTEM, number=number, to=step)
    return number


def mail(subject: str, body: str = "Sehr geehrte Damen und Herren,\nanbei unser Schreiben.",
         sender: str = INSURER, attachments: tuple[tuple[str, bytes], ...] = (), message_id: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"HUK-COBURG Schaden <{sender}>"
    msg["To"] = "eingang@schadenportal.example"
    msg["Subject"] = subject
    msg["Date"] = "Fri, 04 Dec 2026 10:00:00 +0100"
    msg["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@huk-coburg.example>"
    msg.set_content(body)
    for name, data in attachments:
        maintype, subtype = ("application", "pdf") if name.endswith(".pdf") else ("application", "octet-stream")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def rows(engine) -> list[InboundMail]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(InboundMail).order_by(InboundMail.id)))


def events(engine, number: str, action: str = "letter_received") -> list[CaseEvent]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(CaseEvent).join(Case, Case.id == CaseEvent.case_id)
                              .where(Case.number == number, CaseEvent.action == action).order_by(CaseEvent.id)))


def letters(engine, number: str) -> list[documents.DocumentVersionView]:
    with unit_of_work(engine) as s:
        views = documents.list_documents(s, actor=SYSTEM, case_number=number)
    return [v for d in views if d.kind == DocumentKind.LETTER for v in d.versions]


def staff(engine):
    user_id = make_user(engine, "sachbearbeiter", Role.STAFF)
    with unit_of_work(engine) as s:
        return actor_for(s.get(User, user_id))


def test_a_mail_naming_the_case_number_in_the_subject_is_filed_into_that_case(engine, imap_settings, dovecot,
                                                                               mailbox):
    number = make_insurer_case(engine)
    dovecot.deliver(mailbox, mail(f"Ihr Schreiben zu {number.lower()}"))
    report = fetch_mail(engine, settings=imap_settings)
    [row] = rows(engine)
    assert (report.filed, row.status, row.hold_reason) == (1, InboundMailStatus.FILED, None)
    assert [e.details["subject"] for e in events(engine, number)] == [f"Ihr Schreiben zu {number.lower()}"]
    assert KEYWORD in dovecot.flags(mailbox)[0] and "\\Seen" in dovecot.flags(mailbox)[0]


def test_a_mail_naming_the_claim_number_in_the_body_from_the_insurers_domain_is_filed(engine, imap_settings,
                                                                                     dovecot, mailbox):
    number = make_insurer_case(engine, claim="KS-2026/4711")
    dovecot.deliver(mailbox, mail("Ihr Schadenfall", body="Zu unserer Schadennummer KS-2026/4711 teilen wir mit …",
                                  sender="sachbearbeitung@huk-coburg.example"))
    fetch_mail(engine, settings=imap_settings)
    [row] = rows(engine)
    assert (row.status, row.matched_numbers) == (InboundMailStatus.FILED, [number])


def test_an_attachment_becomes_a_letter_document_with_the_same_bytes(engine, imap_settings, dovecot, mailbox):
    number = make_insurer_case(engine)
    dovecot.deliver(mailbox, mail(f"Schreiben {number}", attachments=(("Abrechnung Müller.pdf", PDF),)))
    fetch_mail(engine, settings=imap_settings)
    [version] = letters(engine, number)
    with unit_of_work(engine) as s:
        got = documents.download_document(s, actor=staff(engine), settings=imap_settings, version_id=version.id)
    assert (version.original_name, got.data) == ("Abrechnung Müller.pdf", PDF)


def test_an_insurer_query_sets_rueckfrage_and_creates_a_task_with_a_deadline(engine, imap_settings, dovecot,
                                                                             mailbox):
    number = make_insurer_case(engine, status=CaseStatus.CLAIM_SENT)
    dovecot.deliver(mailbox, mail(f"Rückfrage zu {number}", body="Bitte reichen Sie die Reparaturrechnung nach."))
    fetch_mail(engine, settings=imap_settings)
    with unit_of_work(engine) as s:
        [query] = s.scalars(select(InsurerQuery))
        task = s.get(Task, query.task_id)
        status = s.scalar(select(Case.status).where(Case.number == number))
    assert status == CaseStatus.INSURER_QUERY
    assert (task.kind, task.due_at is not None, task.done_at) == ("query", True, None)


def test_a_query_the_lifecycle_cannot_take_becomes_a_task_to_look_at_the_letter(engine, imap_settings, dovecot,
                                                                                mailbox):
    number = make_insurer_case(engine)  # still Eingang: no claim sent, so no Rückfrage status
    dovecot.deliver(mailbox, mail(f"Rückfrage zu {number}"))
    fetch_mail(engine, settings=imap_settings)
    with unit_of_work(engine) as s:
        titles = list(s.scalars(select(Task.title).where(Task.kind == "letter")))
        queries = s.scalar(select(func.count()).select_from(InsurerQuery))
    assert (titles, queries) == ([t("inmail.task", subject=f"Rückfrage zu {number}")], 0)


def test_a_mail_naming_no_case_is_held_with_its_attachment_kept_encrypted(engine, imap_settings, dovecot, mailbox):
    dovecot.deliver(mailbox, mail("Allgemeine Information", attachments=(("Info.pdf", PDF),)))
    report = fetch_mail(engine, settings=imap_settings)
    [row] = rows(engine)
    [stored] = list(inbound_dir(imap_settings).iterdir())
    assert (report.unassigned, row.status, row.hold_reason) == (1, InboundMailStatus.UNASSIGNED, HoldReason.NO_MATCH)
    assert PDF not in stored.read_bytes()  # encrypted at rest


def test_a_mail_naming_two_cases_is_held(engine, imap_settings, dovecot, mailbox):
    first, second = make_insurer_case(engine), make_insurer_case(engine)
    dovecot.deliver(mailbox, mail(f"Sammelschreiben {first} und {second}"))
    fetch_mail(engine, settings=imap_settings)
    [row] = rows(engine)
    assert (row.hold_reason, sorted(row.matched_numbers)) == (HoldReason.SEVERAL_MATCHES, sorted([first, second]))


def test_a_forged_case_number_from_an_unknown_sender_is_held_not_filed(engine, imap_settings, dovecot, mailbox):
    number = make_insurer_case(engine)
    dovecot.deliver(mailbox, mail(f"Dringend: {number}", sender="betrug@gmail.com",
                                  attachments=(("Rechnung.pdf", PDF),)))
    fetch_mail(engine, settings=imap_settings)
    [row] = rows(engine)
    assert (row.status, row.hold_reason, row.case_id) == (InboundMailStatus.UNASSIGNED, HoldReason.UNKNOWN_SENDER,
                                                          None)
    assert (events(engine, number), letters(engine, number)) == ([], [])


def test_a_refused_attachment_is_kept_out_and_noted_in_the_event(engine, imap_settings, dovecot, mailbox):
    number = make_insurer_case(engine)
    dovecot.deliver(mailbox, mail(f"Schreiben {number}", attachments=(("Brief.pdf", PDF),
                                                                      ("Rechnung.pdf.exe", b"MZ\x90\x00 not a pdf"))))
    fetch_mail(engine, settings=imap_settings)
    [row] = rows(engine)
    [event] = events(engine, number)
    assert [v.original_name for v in letters(engine, number)] == ["Brief.pdf"]
    assert [r["name"] for r in row.rejected] == ["Rechnung.pdf.exe"]
    assert (event.details["rejected"], event.details["reason"].startswith("Rechnung.pdf.exe: ")) == (1, True)


def test_a_refused_attachment_of_a_held_mail_is_shown_on_the_item(engine, imap_settings, dovecot, mailbox):
    dovecot.deliver(mailbox, mail("Ohne Nummer", attachments=(("leer.pdf", b""),)))
    fetch_mail(engine, settings=imap_settings)
    with unit_of_work(engine) as s:
        [item] = list_unassigned_mail(s, actor=staff(engine))
    assert (item.attachments, item.rejected) == ((), (f"leer.pdf: {t('doc.empty')}",))


def test_the_same_message_delivered_twice_is_filed_once(engine, imap_settings, dovecot, mailbox):
    number = make_insurer_case(engine)
    raw = mail(f"Schreiben {number}", attachments=(("Brief.pdf", PDF),))
    dovecot.deliver(mailbox, raw)
    dovecot.deliver(mailbox, raw)
    report = fetch_mail(engine, settings=imap_settings)
    assert (report.filed, report.duplicates, len(rows(engine)), len(letters(engine, number))) == (1, 1, 1, 1)
    assert all(KEYWORD in flags for flags in dovecot.flags(mailbox))


def test_after_a_restart_nothing_is_filed_twice_and_new_mail_is_filed(engine, imap_settings, dovecot, mailbox,
                                                                      database_url):
    number = make_insurer_case(engine)
    dovecot.deliver(mailbox, mail(f"Erstes Schreiben {number}"))
    fetch_mail(engine, settings=imap_settings)
    conn = dovecot.connect(mailbox)  # a crash between commit and flag: the message looks new again
    conn.select("INBOX")
    conn.store("1:*", "-FLAGS", f"({KEYWORD} \\Seen)")
    conn.logout()
    dovecot.deliver(mailbox, mail(f"Zweites Schreiben {number}"))
    restarted = make_engine(database_url)
    try:
        report = fetch_mail(restarted, settings=imap_settings)
    finally:
        restarted.dispose()
    assert (report.duplicates, report.filed) == (1, 1)
    assert len(events(engine, number)) == 2


def test_two_workers_polling_at_once_file_each_message_once(engine, imap_settings, dovecot, mailbox, database_url):
    number = make_insurer_case(engine)
    for i in range(6):
        dovecot.deliver(mailbox, mail(f"Schreiben {i} zu {number}", attachments=(("Brief.pdf", PDF),)))
    engines = [make_engine(database_url) for _ in range(2)]
    reports, errors, start = [], [], threading.Barrier(2)

    def poll(own_engine):
        start.wait()
        try:
            reports.append(fetch_mail(own_engine, settings=imap_settings))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=poll, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for e in engines:
        e.dispose()
    assert errors == []
    assert (sum(r.filed for r in reports), len(rows(engine)), len(letters(engine, number))) == (6, 6, 6)
    assert len(events(engine, number)) == 6


def test_a_message_too_large_to_fetch_is_held_with_its_header_only(engine, imap_settings, dovecot, mailbox):
    number = make_insurer_case(engine)
    small = dataclasses.replace(imap_settings, upload_max_mb=1)  # messages up to 3 MB are fetched
    dovecot.deliver(mailbox, mail(f"Großer Anhang {number}", attachments=(("Fotos.pdf", os.urandom(3 * 2**20)),)))
    fetch_mail(engine, settings=small)
    [row] = rows(engine)
    assert (row.status, row.hold_reason, row.subject) == (InboundMailStatus.UNASSIGNED, HoldReason.TOO_LARGE,
                                                          f"Großer Anhang {number}")
    assert [r["name"] for r in row.rejected] == [t("inmail.whole_mail")]
    assert (events(engine, number), list(inbound_dir(small).glob("*"))) == ([], [])


def test_a_crash_while_processing_leaves_no_row_and_no_file(engine, imap_settings):
    with pytest.raises(RuntimeError), unit_of_work(engine) as s:
        process_message(s, settings=imap_settings, raw=mail("Ohne Nummer", attachments=(("Info.pdf", PDF),)))
        raise RuntimeError("crash before commit")
    assert rows(engine) == []
    assert list(inbound_dir(imap_settings).iterdir()) == []


def held_mail(engine, imap_settings, dovecot, mailbox, subject="Ohne Nummer"):
    dovecot.deliver(mailbox, mail(subject, attachments=(("Brief.pdf", PDF),)))
    fetch_mail(engine, settings=imap_settings)
    [row] = rows(engine)
    return row.id


def test_staff_assign_a_held_mail_and_its_attachment_is_filed_into_the_case(engine, imap_settings, dovecot,
                                                                            mailbox):
    number = make_insurer_case(engine)
    mail_id = held_mail(engine, imap_settings, dovecot, mailbox)
    clerk = staff(engine)
    with unit_of_work(engine) as s:
        assign_inbound_mail(s, actor=clerk, settings=imap_settings, mail_id=mail_id, case_number=number.lower())
    [row] = rows(engine)
    [event] = events(engine, number)
    assert (row.status, row.handled_by_name, event.actor_name) == (InboundMailStatus.ASSIGNED, clerk.display_name,
                                                                   clerk.display_name)
    assert [v.original_name for v in letters(engine, number)] == ["Brief.pdf"]
    assert list(inbound_dir(imap_settings).iterdir()) == []  # the held copy is gone


def test_assigning_to_an_unknown_case_number_is_refused_and_changes_nothing(engine, imap_settings, dovecot, mailbox):
    mail_id = held_mail(engine, imap_settings, dovecot, mailbox)
    with pytest.raises(NotFound, match=t("case.refused")), unit_of_work(engine) as s:
        assign_inbound_mail(s, actor=staff(engine), settings=imap_settings, mail_id=mail_id,
                            case_number="SP-1999-999999")
    [row] = rows(engine)
    assert (row.status, len(list(inbound_dir(imap_settings).iterdir()))) == (InboundMailStatus.UNASSIGNED, 1)


def test_dismissing_needs_a_reason_and_then_deletes_the_held_files(engine, imap_settings, dovecot, mailbox):
    mail_id = held_mail(engine, imap_settings, dovecot, mailbox)
    clerk = staff(engine)
    with pytest.raises(ValidationError), unit_of_work(engine) as s:
        dismiss_inbound_mail(s, actor=clerk, settings=imap_settings, mail_id=mail_id, reason="  ")
    with unit_of_work(engine) as s:
        dismiss_inbound_mail(s, actor=clerk, settings=imap_settings, mail_id=mail_id, reason="Werbung")
    [row] = rows(engine)
    assert (row.status, row.dismiss_reason) == (InboundMailStatus.DISMISSED, "Werbung")
    assert list(inbound_dir(imap_settings).iterdir()) == []


def test_a_worker_round_files_new_mail(engine, imap_settings, dovecot, mailbox):
    number = make_insurer_case(engine)
    dovecot.deliver(mailbox, mail(f"Schreiben {number}"))
    run_worker(engine, imap_settings, once=True)
    assert [row.status for row in rows(engine)] == [InboundMailStatus.FILED]


def test_with_the_imap_server_down_the_worker_logs_it_and_the_round_goes_on(engine, settings, caplog):
    down = dataclasses.replace(settings, imap=ImapSettings(host="127.0.0.1", port=free_port(), security="none",
                                                           user="x", password="y"))
    with caplog.at_level(logging.ERROR, logger="core.worker"):
        run_worker(engine, down, once=True)
    with unit_of_work(engine) as s:
        [beat] = s.scalars(select(WorkerHeartbeat))
    assert any(r.getMessage().startswith("inbound mail failed") for r in caplog.records)
    assert beat.last_result == "ok"


def test_the_fetch_mail_command_polls_once_and_prints_what_it_did(engine, imap_settings, dovecot, mailbox,
                                                                  database_url, monkeypatch, capsys):
    number = make_insurer_case(engine)
    dovecot.deliver(mailbox, mail(f"Schreiben {number}"))
    for name, value in {"DATABASE_URL": database_url, "DATA_DIR": str(imap_settings.data_dir),
                        "IMAP_HOST": "127.0.0.1", "IMAP_PORT": str(dovecot.port), "IMAP_SECURITY": "none",
                        "IMAP_USER": mailbox.user, "IMAP_PASSWORD": mailbox.password}.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["fetch-mail"]) == 0
    assert t("inmail.cli_report", fetched=1, filed=1, unassigned=0, duplicates=0, failed=0) in capsys.readouterr().out


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_imap_over_tls_logs_in_with_a_trusted_certificate(dovecot, mailbox, monkeypatch, security):
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.cert))
    port = dovecot.tls_port if security == "ssl" else dovecot.port
    conn = connect(ImapSettings(host="localhost", port=port, security=security, user=mailbox.user,
                                password=mailbox.password))
    assert conn.state == "AUTH"
    conn.logout()


def test_imap_over_tls_refuses_an_untrusted_certificate(dovecot, mailbox):
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(ImapSettings(host="localhost", port=dovecot.tls_port, security="ssl", user=mailbox.user,
                             password=mailbox.password))


def test_a_wrong_imap_password_is_an_imap_error(dovecot, mailbox):
    with pytest.raises(imaplib.IMAP4.error):
        connect(ImapSettings(host="127.0.0.1", port=dovecot.port, security="none", user=mailbox.user,
                             password="falsch"))
