"""The daily digest on SQLite and PostgreSQL (§8): a digest user gets no single reminders but one mail a Berlin
day from 07:00 listing everything due for them."""

from datetime import datetime, time, timedelta

from sqlalchemy import select

from core.digest import send_daily_digests
from core.enums import CaseStatus
from core.reminders import queue_due_reminders
from core.timeutil import BERLIN, now, to_berlin
from db.engine import unit_of_work
from db.models import Case, OutboxMessage
from tests.integration.test_reminders import case_of, clerk, mails, task_of


def berlin(day_offset: int, hour: int) -> datetime:
    """`hour` o'clock Berlin time, `day_offset` days from today."""
    day = to_berlin(now()).date() + timedelta(days=day_offset)
    return datetime.combine(day, time(hour), tzinfo=BERLIN)


def digest(engine, at) -> int:
    with unit_of_work(engine) as s:
        return send_daily_digests(s, at=at)


def due_things_for(engine, user_id: int) -> tuple[str, str, str]:
    """An overdue claim letter, a silent insurer and an overdue task of `user_id`: their case numbers."""
    late = case_of(engine, user_id, received_at=now() - timedelta(hours=50))
    sent = now() - timedelta(days=15)
    silent = case_of(engine, user_id, received_at=sent - timedelta(days=1), status=CaseStatus.CLAIM_SENT,
                     sent_at=sent)
    other = case_of(engine, user_id, received_at=now() - timedelta(hours=2))
    task_of(engine, user_id, other, due_at=now() - timedelta(minutes=5))
    with unit_of_work(engine) as s:
        return tuple(s.get(Case, i).number for i in (late, silent, other))


def test_digest_user_gets_no_single_reminders(engine):
    due_things_for(engine, clerk(engine, digest_mode=True))
    with unit_of_work(engine) as s:
        assert queue_due_reminders(s, at=now()) == 0
    assert mails(engine) == []


def test_digest_lists_all_due_things_in_one_mail(engine):
    late, silent, other = due_things_for(engine, clerk(engine, digest_mode=True))
    assert (digest(engine, berlin(1, 8)), digest(engine, berlin(1, 9))) == (1, 0)
    [mail] = mails(engine)
    assert (mail.template_key, mail.recipient) == ("digest", "clerk@example.org")
    assert "3 Meldungen" in mail.subject
    assert all(number in mail.body for number in (late, silent, other))
    assert "Rückruf beim Kunden" in mail.body and "nachfassen" in mail.body


def test_no_digest_before_seven_and_one_again_next_day(engine):
    user = clerk(engine, digest_mode=True)
    due_things_for(engine, user)
    assert digest(engine, berlin(1, 6)) == 0
    assert (digest(engine, berlin(1, 7)), digest(engine, berlin(2, 7))) == (1, 1)
    day1, day2 = (berlin(d, 7).date().isoformat() for d in (1, 2))
    assert [m.idempotency_key for m in mails(engine)] == [f"digest:{user}:{day1}", f"digest:{user}:{day2}"]


def test_user_without_digest_gets_single_mails_and_no_digest(engine):
    due_things_for(engine, clerk(engine))
    assert digest(engine, berlin(1, 8)) == 0
    with unit_of_work(engine) as s:
        assert queue_due_reminders(s, at=now()) == 3
        assert s.scalar(select(OutboxMessage).where(OutboxMessage.template_key == "digest")) is None


def test_digest_user_with_nothing_due_gets_no_digest(engine):
    clerk(engine, digest_mode=True)
    assert digest(engine, berlin(1, 8)) == 0
