"""The daily digest (§8 "recipients may choose a daily digest instead of single mails").

Design (no extra table): a user with `digest_mode` gets no single reminder mails (`core.reminders` skips
them); instead, once per Berlin day from 07:00 on, `send_daily_digests` queues ONE `digest` mail per such
user listing what is due for them at that moment (overdue tasks, cases past 36/48 h without claim letter,
silent insurers), computed by `core.reminders.due_items` exactly like the single reminders. The outbox
idempotency key `digest:<user>:<Berlin date>` makes it once a day, however often and by however many workers
it runs. A user with nothing due gets no digest that day. Things stay in the digest while they are due, so a
digest is the day's to-do list rather than a log of what was mailed.
"""

from __future__ import annotations

import logging
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.outbox import enqueue_mail
from core.reminders import due_items
from core.timeutil import format_date, to_berlin
from db.models import OutboxMessage

log = logging.getLogger(__name__)

#: Digests go out from this Berlin time on.
DIGEST_FROM = time(7, 0)


def send_daily_digests(session: Session, *, at: datetime) -> int:
    """Queue today's digest for every digest user with something due (from 07:00 Berlin, once a day);
    returns how many digests were queued now."""
    local = to_berlin(at)
    if local.time() < DIGEST_FROM:
        return 0
    per_user: dict[int, tuple[object, list[str]]] = {}
    for item, user in due_items(session, at=at):
        if user.digest_mode:
            per_user.setdefault(user.id, (user, []))[1].append(item.line)
    keys = {uid: f"digest:{uid}:{local.date().isoformat()}" for uid in per_user}
    done = set(session.scalars(select(OutboxMessage.idempotency_key)
                               .where(OutboxMessage.idempotency_key.in_(list(keys.values()))))) if keys else set()
    queued = 0
    for uid, (user, lines) in per_user.items():
        if keys[uid] in done:
            continue
        values = {"empfaenger": user.display_name, "tag": format_date(local.date()), "anzahl": str(len(lines)),
                  "eintraege": "\n".join(f"- {line}" for line in lines)}
        try:
            enqueue_mail(session, idempotency_key=keys[uid], template_key="digest", recipient=user.email,
                         values=values)
        except ValidationError:  # a stored address that is no address: skip it, do not block the others
            log.warning("digest for user %s: invalid e-mail address", uid)
            continue
        queued += 1
    return queued
