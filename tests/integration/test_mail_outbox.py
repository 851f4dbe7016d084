"""Sending the mail outbox on SQLite and PostgreSQL: a real aiosmtpd server, retries with backoff, several
workers, the .eml fallback, admin resend, and `python -m core worker --once`."""

import io
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from core import cli
from core.assignment import override_assignment
from core.auth import actor_for
from core.enums import OutboxStatus, Role
from core.errors import PermissionDenied, ValidationError
from core.jobs import LEASE
from core.mailer import SmtpTransport, mail_dir, transport_for
from core.outbox import enqueue_mail
from core.outbox_admin import list_outbox, outbox_counts, resend
from core.permissions import SYSTEM
from core.settings import ROOT, SmtpSettings
from core.timeutil import now
from core.worker import SendReport, claim_batch, send_due_mail
from db.engine import make_engine, unit_of_work
from db.migrate import upgrade_to_head
from db.models import OutboxMessage, User
from tests.factories import make_case, make_partner, make_user
from tests.mailserver import SmtpServer, free_port, only_eml

PARTNER_MAIL = "auftrag@autoglas-nord.example"


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 for the test."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(settings, smtp_server):
    """Settings sending to the local aiosmtpd server (no TLS, no login)."""
    return replace(settings, smtp=SmtpSettings(host="127.0.0.1", port=smtp_server.port, security="none",
                                               sender="Schadenportal <noreply@schadenportal.example>"))


def queue_order_mail(engine) -> str:
    """An order given to a partner with an e-mail address: the product queues the order mail."""
    partner = make_partner(engine, "Autoglas Nord", email=PARTNER_MAIL)
    number = make_case(engine)
    with unit_of_work(engine) as s:
        override_assignment(s, actor=SYSTEM, number=number, partner_id=partner, reason="Test")
    return number


def queue_mails(engine, count: int) -> None:
    with unit_of_work(engine) as s:
        for i in range(count):
            enqueue_mail(s, idempotency_key=f"test:{i}", template_key="partner_rejected", recipient=f"b{i}@example.org",
                         values={"ansprechpartner": f"Frau {i}", "betrieb": f"Betrieb {i}", "grund": "Region voll"})


def add_row(engine, **fields) -> int:
    with unit_of_work(engine) as s:
        row = OutboxMessage(**{"idempotency_key": "raw:1", "recipient": PARTNER_MAIL, "subject": "Hallo",
                               "body": "Text", "attachments": [], **fields})
        s.add(row)
        s.flush()
        return row.id


def rows(engine) -> list[OutboxMessage]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def send(engine, settings, *, at=None, worker="w1", transport=None, **kwargs) -> SendReport:
    return send_due_mail(engine, settings=settings, transport=transport or transport_for(settings), worker_id=worker,
                         at=at, **kwargs)


def actor(engine, role=Role.ADMIN):
    user_id = make_user(engine, f"u_{role}", role)
    with unit_of_work(engine) as s:
        return actor_for(s.get(User, user_id))


def test_order_mail_arrives_over_smtp_with_the_declaration_pdf(engine, mail_settings, smtp_server):
    number = queue_order_mail(engine)
    assert send(engine, mail_settings).sent == 1
    [(recipients, mail)] = smtp_server.received
    assert recipients == [PARTNER_MAIL] and mail["Subject"] == f"Neuer Auftrag {number}"
    pdf = next(mail.iter_attachments())
    assert (pdf.get_content_type(), pdf.get_filename()) == ("application/pdf", f"Abtretungserklaerung-{number}.pdf")
    assert number in PdfReader(io.BytesIO(pdf.get_content())).pages[0].extract_text()


def test_sent_message_records_its_message_id_and_time(engine, mail_settings, smtp_server):
    queue_order_mail(engine)
    send(engine, mail_settings)
    [row] = rows(engine)
    assert (row.status, row.attempts, row.message_id) == (OutboxStatus.SENT, 1, smtp_server.message_ids[0])
    assert row.sent_at is not None and row.message_id.startswith(f"<outbox-{row.id}-")


def test_smtp_down_keeps_every_message_and_retries_after_the_backoff(engine, mail_settings, smtp_server):
    queue_mails(engine, 3)
    smtp_server.stop()
    at = now()
    assert send(engine, mail_settings, at=at).retrying == 3
    for row in rows(engine):
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
        assert "ConnectionRefusedError" in row.last_error
        assert at + timedelta(minutes=1) <= row.next_attempt_at <= now() + timedelta(minutes=1)
    assert send(engine, mail_settings, at=at + timedelta(seconds=30)).claimed == 0
    smtp_server.start()
    assert send(engine, mail_settings, at=at + timedelta(minutes=2)).sent == 3
    assert send(engine, mail_settings, at=at + timedelta(hours=1)).claimed == 0
    assert len(smtp_server.message_ids) == len(set(smtp_server.message_ids)) == 3


def test_two_workers_send_thirty_messages_exactly_once(engine, database_url, mail_settings, smtp_server):
    queue_mails(engine, 30)
    second = make_engine(database_url)  # as if a second process
    smtp, start = SmtpTransport(mail_settings.smtp), threading.Barrier(2)

    class Slow:  # keeps each worker busy long enough for the other to claim in between
        def send(self, message):
            time.sleep(0.01)
            smtp.send(message)

    def work(eng, name):
        start.wait()
        total = SendReport()
        while (report := send(eng, mail_settings, worker=name, transport=Slow(), limit=3)).claimed:
            total += report
        return total

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(work, [engine, second], ["w1", "w2"]))
    second.dispose()
    assert len(smtp_server.message_ids) == len(set(smtp_server.message_ids)) == 30
    assert sum(r.sent for r in reports) == 30 and all(r.sent for r in reports)
    assert {row.status for row in rows(engine)} == {OutboxStatus.SENT}


def test_concurrent_claims_take_disjoint_messages(engine, database_url):
    queue_mails(engine, 6)
    second, a_holds, release = make_engine(database_url), threading.Event(), threading.Event()

    def claim_and_hold():
        with unit_of_work(engine) as s:
            ids = [m.id for m in claim_batch(s, worker_id="a", limit=3, at=now())]
            a_holds.set()
            release.wait(10)  # the claim transaction stays open meanwhile
            return ids

    def claim_rest():
        a_holds.wait(10)
        with unit_of_work(second) as s:  # PostgreSQL skips a's locked rows; SQLite waits for a's commit
            return [m.id for m in claim_batch(s, worker_id="b", limit=10, at=now())]

    with ThreadPoolExecutor(2) as pool:
        first, other = pool.submit(claim_and_hold), pool.submit(claim_rest)
        a_holds.wait(10)
        time.sleep(0.3)
        release.set()
        a_ids, b_ids = first.result(), other.result()
    second.dispose()
    assert len(a_ids) == 3 and sorted(a_ids + b_ids) == [row.id for row in rows(engine)]


def test_a_message_left_sending_by_a_dead_worker_is_sent_after_its_lease(engine, mail_settings, smtp_server):
    queue_mails(engine, 1)
    with unit_of_work(engine) as s:
        claim_batch(s, worker_id="dead", limit=10, at=now())
    assert send(engine, mail_settings, worker="w2").claimed == 0
    assert send(engine, mail_settings, worker="w2", at=now() + LEASE + timedelta(minutes=1)).sent == 1
    [row] = rows(engine)
    assert (row.status, row.attempts, row.claimed_by) == (OutboxStatus.SENT, 2, "w2")
    assert smtp_server.message_ids == [row.message_id]


def test_a_message_that_keeps_failing_ends_failed_with_its_error(engine, settings):
    queue_mails(engine, 1)
    closed = replace(settings, smtp=SmtpSettings(host="127.0.0.1", port=free_port(), security="none"))
    at = now()
    reports = [send(engine, closed, at=at + timedelta(hours=7 * i)) for i in range(9)]
    assert [r.retrying for r in reports[:7]] == [1] * 7 and reports[7].failed == 1 and reports[8].claimed == 0
    [row] = rows(engine)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 8)
    assert "ConnectionRefusedError" in row.last_error


def test_resend_puts_a_failed_message_back_and_it_is_sent(engine, mail_settings, smtp_server):
    row_id = add_row(engine, status=OutboxStatus.FAILED, attempts=8, last_error="SMTPServerDisconnected")
    with unit_of_work(engine) as s:
        view = resend(s, actor=actor(engine), message_id=row_id)
    assert (view.status, view.attempts) == (OutboxStatus.PENDING, 0)
    assert send(engine, mail_settings).sent == 1 and len(smtp_server.received) == 1


def test_resend_refuses_a_message_that_has_not_failed(engine):
    row_id, admin = add_row(engine), actor(engine)
    with pytest.raises(ValidationError), unit_of_work(engine) as s:
        resend(s, actor=admin, message_id=row_id)


def test_outbox_admin_functions_are_refused_to_staff(engine):
    row_id, staff = add_row(engine, status=OutboxStatus.FAILED), actor(engine, Role.STAFF)
    with unit_of_work(engine) as s:
        for call in (lambda: resend(s, actor=staff, message_id=row_id), lambda: list_outbox(s, actor=staff),
                     lambda: outbox_counts(s, actor=staff)):
            with pytest.raises(PermissionDenied):
                call()


def test_admin_list_shows_failed_mails_with_their_error_and_the_counts(engine):
    add_row(engine, status=OutboxStatus.FAILED, last_error="SMTPDataError: 554 rejected")
    queue_mails(engine, 2)
    admin = actor(engine)
    with unit_of_work(engine) as s:
        [failed] = list_outbox(s, actor=admin, status=OutboxStatus.FAILED)
        counts = outbox_counts(s, actor=admin)
    assert (failed.recipient, failed.last_error) == (PARTNER_MAIL, "SMTPDataError: 554 rejected")
    assert counts == {OutboxStatus.PENDING: 2, OutboxStatus.SENDING: 0, OutboxStatus.SENT: 0, OutboxStatus.FAILED: 1}


def test_without_smtp_mails_are_written_as_eml_files_with_the_attachment(engine, settings):
    number = queue_order_mail(engine)
    assert send(engine, settings).sent == 1
    mail = only_eml(mail_dir(settings))
    assert mail["To"] == PARTNER_MAIL and mail["Message-ID"] == rows(engine)[0].message_id
    assert number in PdfReader(io.BytesIO(next(mail.iter_attachments()).get_content())).pages[0].extract_text()


def test_links_in_the_body_carry_the_configured_base_url(engine, settings):
    number = queue_order_mail(engine)
    send(engine, replace(settings, base_url="https://portal.schadenportal.example"))
    body = only_eml(mail_dir(settings)).get_body(("plain",)).get_content()
    assert f"https://portal.schadenportal.example/case?nr={number}" in body and "{base_url}" not in body


def test_line_breaks_in_a_queued_subject_reach_the_server_as_one_header(engine, mail_settings, smtp_server):
    add_row(engine, subject="Hallo\r\nBcc: evil@example.org\r\nX-Evil: 1")
    send(engine, mail_settings)
    [(recipients, mail)] = smtp_server.received
    assert recipients == [PARTNER_MAIL] and mail["Bcc"] is None and mail["X-Evil"] is None
    assert mail["Subject"] == "Hallo Bcc: evil@example.org X-Evil: 1"


def test_a_recipient_with_an_injected_header_fails_at_once_and_nothing_is_sent(engine, mail_settings, smtp_server):
    add_row(engine, recipient=f"{PARTNER_MAIL}\r\nBcc: evil@example.org")
    assert send(engine, mail_settings).failed == 1
    [row] = rows(engine)
    assert row.status == OutboxStatus.FAILED and "MailError" in row.last_error
    assert smtp_server.received == []


def test_serve_runs_the_worker_in_the_background_until_stopped(engine, settings):
    queue_order_mail(engine)
    stop, deadline = threading.Event(), time.monotonic() + 30
    thread = cli._start_worker(settings, stop)
    while not list(mail_dir(settings).glob("*.eml")) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=15)
    assert not thread.is_alive() and len(list(mail_dir(settings).glob("*.eml"))) == 1


def test_worker_once_command_writes_the_eml_and_exits_zero(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    number = queue_order_mail(engine)
    engine.dispose()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SMTP_")}, "DATABASE_URL": url,
           "DATA_DIR": str(tmp_path / "data"), "APP_MODE": "demo", "SECRETS_PATH": str(tmp_path / "none.toml")}
    result = subprocess.run([sys.executable, "-m", "core", "worker", "--once"], cwd=ROOT, env=env, check=False,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert only_eml(tmp_path / "data" / "mail")["Subject"] == f"Neuer Auftrag {number}"
