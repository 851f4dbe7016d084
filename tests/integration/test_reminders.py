"""Reminders on SQLite and PostgreSQL (§4, §8): claim-letter deadline at 36 h and 48 h, silent insurer after
14 days, due tasks; each mailed once however often the worker runs, and sent by the worker over SMTP."""

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.enums import CaseStatus, PartnerKind, Role
from core.mailer import transport_for
from core.outbox import app_link
from core.reminders import queue_due_reminders
from core.settings import SmtpSettings
from core.timeutil import now
from core.worker import run_worker
from db.engine import unit_of_work
from db.models import Case, InsurerQuery, OutboxMessage, Task, User
from tests.factories import make_case, make_partner, make_user
from tests.mailserver import SmtpServer


def clerk(engine, name: str = "clerk", **fields) -> int:
    """A staff user (mailable unless told otherwise)."""
    user_id = make_user(engine, name, Role.STAFF)
    with unit_of_work(engine) as s:
        user = s.get(User, user_id)
        for key, value in fields.items():
            setattr(user, key, value)
    return user_id


def case_of(engine, clerk_id: int, *, received_at, status=CaseStatus.RECEIVED, sent_at=None) -> int:
    """A case of `clerk_id`, put straight into `status` (the lifecycle itself is tested elsewhere)."""
    number = make_case(engine, received_at=received_at)
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        case.clerk_id, case.status, case.claim_letter_sent_at = clerk_id, status, sent_at
        return case.id


def task_of(engine, clerk_id: int, case_id: int, *, due_at, done: bool = False) -> int:
    with unit_of_work(engine) as s:
        task = Task(case_id=case_id, title="Rückruf beim Kunden", assignee_id=clerk_id, due_at=due_at,
                    done_at=now() if done else None)
        s.add(task)
        s.flush()
        return task.id


def remind(engine, at) -> int:
    with unit_of_work(engine) as s:
        return queue_due_reminders(s, at=at)


def mails(engine) -> list[OutboxMessage]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def reminder_tasks(engine, case_id: int) -> list[Task]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(Task).where(Task.case_id == case_id, Task.kind == "reminder")))


def test_claim_letter_warning_at_36_hours_is_queued_once(engine):
    user = clerk(engine)
    start = now() - timedelta(hours=1)
    case_of(engine, user, received_at=start)
    at = start + timedelta(hours=37)
    assert (remind(engine, at), remind(engine, at)) == (1, 0)
    [mail] = mails(engine)
    assert (mail.template_key, mail.recipient) == ("deadline_warning", "clerk@example.org")
    assert mail.idempotency_key.startswith("remind:claim36:")


def test_claim_letter_overdue_at_48_hours_is_a_second_mail(engine):
    user = clerk(engine)
    start = now() - timedelta(hours=1)
    case_of(engine, user, received_at=start)
    remind(engine, start + timedelta(hours=37))
    assert (remind(engine, start + timedelta(hours=49)), remind(engine, start + timedelta(hours=50))) == (1, 0)
    assert [m.idempotency_key.split(":")[1] for m in mails(engine)] == ["claim36", "claim48"]


def test_case_before_36_hours_gets_no_warning(engine):
    user = clerk(engine)
    start = now() - timedelta(hours=1)
    case_of(engine, user, received_at=start)
    assert remind(engine, start + timedelta(hours=35)) == 0


def test_case_with_claim_letter_gets_no_warning(engine):
    user = clerk(engine)
    start = now() - timedelta(hours=50)
    case_of(engine, user, received_at=start, status=CaseStatus.CLAIM_SENT, sent_at=start + timedelta(hours=20))
    assert remind(engine, now()) == 0 and mails(engine) == []


def test_silent_insurer_gets_one_mail_and_one_follow_up_task(engine):
    user = clerk(engine)
    sent = now() - timedelta(days=15)
    case_id = case_of(engine, user, received_at=sent - timedelta(days=1), status=CaseStatus.CLAIM_SENT, sent_at=sent)
    assert (remind(engine, now()), remind(engine, now())) == (1, 0)
    [mail] = mails(engine)
    assert mail.template_key == "insurer_silence" and mail.idempotency_key.startswith("remind:silent:")
    [task] = reminder_tasks(engine, case_id)
    assert task.assignee_id == user and task.done_at is None


def test_answered_query_restarts_the_14_days(engine):
    user = clerk(engine)
    sent = now() - timedelta(days=20)
    case_id = case_of(engine, user, received_at=sent - timedelta(days=1), status=CaseStatus.CLAIM_SENT, sent_at=sent)
    with unit_of_work(engine) as s:
        s.add(InsurerQuery(case_id=case_id, subject="Rechnung", received_at=sent + timedelta(days=3),
                           answered_at=now() - timedelta(days=5)))
    assert remind(engine, now()) == 0 and reminder_tasks(engine, case_id) == []


def test_due_task_is_mailed_once_to_its_assignee(engine):
    user = clerk(engine)
    case_id = case_of(engine, user, received_at=now() - timedelta(hours=2))
    task_of(engine, user, case_id, due_at=now() - timedelta(minutes=5))
    assert (remind(engine, now()), remind(engine, now())) == (1, 0)
    [mail] = mails(engine)
    assert mail.template_key == "task_due" and "Rückruf beim Kunden" in mail.subject


def test_a_due_task_without_a_case_links_to_the_start_page_at_the_root(engine):
    user = clerk(engine)
    partner_id = make_partner(engine, "Glas Nord", PartnerKind.GLASS)
    with unit_of_work(engine) as s:
        s.add(Task(case_id=None, partner_id=partner_id, title="Vertrag prüfen", assignee_id=user,
                   due_at=now() - timedelta(minutes=5)))
    assert remind(engine, now()) == 1
    [mail] = mails(engine)
    assert "Glas Nord" in mail.body and f"Termin: {app_link('/')}\n" in mail.body
    assert "/start" not in mail.body  # Streamlit serves the start page (the default page) at /, not at /start


def test_moved_due_date_is_mailed_again(engine):
    user = clerk(engine)
    case_id = case_of(engine, user, received_at=now() - timedelta(hours=2))
    task_id = task_of(engine, user, case_id, due_at=now() - timedelta(minutes=5))
    remind(engine, now())
    with unit_of_work(engine) as s:
        s.get(Task, task_id).due_at = now() - timedelta(minutes=1)
    assert remind(engine, now()) == 1


def test_done_task_gets_no_mail(engine):
    user = clerk(engine)
    case_id = case_of(engine, user, received_at=now() - timedelta(hours=2))
    task_of(engine, user, case_id, due_at=now() - timedelta(minutes=5), done=True)
    assert remind(engine, now()) == 0


@pytest.mark.parametrize("fields", [{"is_active": False}, {"email": ""}], ids=["inactive", "no-address"])
def test_user_without_mail_or_inactive_gets_nothing(engine, fields):
    user = clerk(engine, **fields)
    case_id = case_of(engine, user, received_at=now() - timedelta(hours=50))
    task_of(engine, user, case_id, due_at=now() - timedelta(minutes=5))
    assert remind(engine, now()) == 0


def test_worker_queues_the_reminder_and_sends_it_in_the_next_round(engine, settings):
    server = SmtpServer()
    server.start()
    try:
        mail_settings = replace(settings, smtp=SmtpSettings(host="127.0.0.1", port=server.port, security="none",
                                                            sender="Schadenportal <noreply@schadenportal.example>"))
        user = clerk(engine)
        case_id = case_of(engine, user, received_at=now() - timedelta(hours=2))
        task_of(engine, user, case_id, due_at=now() - timedelta(minutes=5))
        for _ in range(3):
            run_worker(engine, mail_settings, once=True, transport=transport_for(mail_settings))
        [(recipients, mail)] = server.received
        assert recipients == ["clerk@example.org"] and mail["Subject"] == "Aufgabe fällig: Rückruf beim Kunden"
    finally:
        server.stop()
