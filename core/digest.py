"""The daily digest (§8 "recipients may choose a daily digest instead of single mails").

Design (no extra table): a user with `digest_mode` gets no single reminder mails (`core.reminders` skips
them), and a broker's or partner's login whose address receives its organisation's status mails gets none of
those either (`core.notify` skips them). Instead, once per Berlin day from 07:00 on, `send_daily_digests`
queues ONE `digest` mail per such user with two sections:
- "Fällig oder überfällig": what is due for them at that moment (overdue tasks, cases past 36/48 h without
  claim letter, silent insurers), computed by `core.reminders.due_items` exactly like the single reminders.
  Things stay there while they are due, so this part is the day's to-do list rather than a log.
- "Gestern geändert": the status changes of the previous Berlin day that were held back from a broker or
  partner (`core.notify.business_digest_lines`, read from the case events).
The outbox idempotency key `digest:<user>:<Berlin date>` makes it once a day, however often and by however
many workers it runs. A user with nothing in either section gets no digest that day.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.i18n import t
from core.notify import business_digest_lines
from core.outbox import enqueue_mail
from core.reminders import due_items
from core.timeutil import BERLIN, format_date, to_berlin
from db.models import OutboxMessage, User

log = logging.getLogger(__name__)

#: Digests go out from this Berlin time on.
DIGEST_FROM = time(7, 0)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a Berlin calendar day, as aware datetimes."""
    start = datetime.combine(day, time(0), tzinfo=BERLIN)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN)


def _changes(session: Session, *, day: date, among: set[int]) -> dict[int, tuple[User, list[str]]]:
    """The held-back status changes of `day` per broker or partner login (of `among`) that chose the digest."""
    users = session.scalars(
        select(User).where(User.id.in_(among), User.is_active.is_(True), User.email != "",
                           or_(User.broker_id.is_not(None), User.partner_id.is_not(None))).order_by(User.id)
    ).all()
    start, end = _day_bounds(day)
    out = {}
    for user in users:
        lines = business_digest_lines(session, user=user, start=start, end=end)
        if lines:
            out[user.id] = (user, lines)
    return out


def _sections(due: list[str], changes: list[str]) -> str:
    parts = [(t("digest.section_due"), due), (t("digest.section_changes"), changes)]
    return "\n\n".join(title + "\n" + "\n".join(f"- {line}" for line in lines) for title, lines in parts if lines)


def _key(user_id: int, day: date) -> str:
    return f"digest:{user_id}:{day.isoformat()}"


def send_daily_digests(session: Session, *, at: datetime) -> int:
    """Queue today's digest for every digest user with something due or changed yesterday (from 07:00 Berlin,
    once a day); returns how many digests were queued now."""
    local = to_berlin(at)
    if local.time() < DIGEST_FROM:
        return 0
    today = local.date()
    digest_users = set(session.scalars(select(User.id).where(User.digest_mode.is_(True))))
    done = set(session.scalars(select(OutboxMessage.idempotency_key).where(
        OutboxMessage.idempotency_key.in_([_key(uid, today) for uid in digest_users])))) if digest_users else set()
    waiting = {uid for uid in digest_users if _key(uid, today) not in done}
    if not waiting:
        return 0
    due: dict[int, tuple[User, list[str]]] = {}
    for item, user in due_items(session, at=at):
        if user.id in waiting:
            due.setdefault(user.id, (user, []))[1].append(item.line)
    changes = _changes(session, day=today - timedelta(days=1), among=waiting)
    queued = 0
    for uid in sorted(set(due) | set(changes)):
        user = (due.get(uid) or changes[uid])[0]
        due_lines, change_lines = due[uid][1] if uid in due else [], changes[uid][1] if uid in changes else []
        values = {"empfaenger": user.display_name, "tag": format_date(today),
                  "anzahl": str(len(due_lines) + len(change_lines)), "eintraege": _sections(due_lines, change_lines)}
        try:
            enqueue_mail(session, idempotency_key=_key(uid, today), template_key="digest", recipient=user.email,
                         values=values)
        except ValidationError:  # a stored address that is no address: skip it, do not block the others
            log.warning("digest for user %s: invalid e-mail address", uid)
            continue
        queued += 1
    return queued
