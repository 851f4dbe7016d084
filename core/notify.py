"""Status mails (§8 triggers), queued in the transaction of the change that causes them.

- Client: each status change queues the fitting template with the client's status link; clients without an
  e-mail address get none. A document asked of the client (a `document:<kind>` task) queues
  `document_requested` with the upload link (the status page), one mail for all documents of one request.
- Broker and partner: a status change that matters to them queues `status_update_broker` to the broker who
  sent the case and `status_update_partner` to the case's partner business, at the address stored with the
  broker or business. Which changes matter (`BUSINESS_CHANGES`): the broker hears of every change after the
  internal review (claim sent, insurer query and its answer, payment, close, cancel); the partner only of the
  claim going out (not of queries and their answers), the payment (its money comes with the settlement), the
  close and the cancellation (stop working). The mail says what happened and what now in one sentence each,
  with the case link (`/case?nr=…`, login required); never amounts, notes, reasons or another party's name.
- Digest: if that address is the one of an active login of the same broker or business who chose the daily
  digest, no single mail is queued; `core.digest` lists the change the next day (`business_digest_lines`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.client_links import survey_link_marker
from core.client_portal import (
    client_requestable,
    status_link_marker,
    status_mail_values,
)
from core.enums import OPEN_STATUSES, CaseStatus, DocumentKind
from core.errors import ValidationError
from core.i18n import label, t
from core.outbox import app_link, enqueue_mail
from core.validation import email as valid_email
from db.models import Broker, Case, CaseEvent, OutboxMessage, Partner, User

log = logging.getLogger(__name__)

#: The template for a change into each status; the query mail is queued where the query is recorded.
CLIENT_TEMPLATE: dict[CaseStatus, str] = {
    CaseStatus.REVIEW: "status_update",
    CaseStatus.CLAIM_SENT: "claim_letter_sent",
    CaseStatus.PAID: "payment_received",
    CaseStatus.CLOSED: "survey_invitation",
    CaseStatus.CANCELLED: "status_update",
}

BROKER, PARTNER = "broker", "partner"
BUSINESS_TEMPLATE = {BROKER: "status_update_broker", PARTNER: "status_update_partner"}
_S = CaseStatus
#: (recipient, from, to) -> the step whose two sentences (`statusmail.<recipient>_<step>[_next]`) the mail says.
BUSINESS_CHANGES: dict[tuple[str, CaseStatus, CaseStatus], str] = {
    (BROKER, _S.REVIEW, _S.CLAIM_SENT): "claim_sent",
    (BROKER, _S.CLAIM_SENT, _S.INSURER_QUERY): "insurer_query",
    (BROKER, _S.INSURER_QUERY, _S.CLAIM_SENT): "query_answered",
    (BROKER, _S.CLAIM_SENT, _S.PAID): "paid",
    (PARTNER, _S.REVIEW, _S.CLAIM_SENT): "claim_sent",
    (PARTNER, _S.CLAIM_SENT, _S.PAID): "paid",
    **{(who, src, _S.CLOSED): "closed" for who in (BROKER, PARTNER) for src in (_S.PAID, _S.CLAIM_SENT,
                                                                                   _S.INSURER_QUERY)},
    **{(who, src, _S.CANCELLED): "cancelled" for who in (BROKER, PARTNER) for src in OPEN_STATUSES},
}


# --- the client ------------------------------------------------------------------------------


def client_status_mail(session: Session, *, case: Case, to: CaseStatus, extra: dict | None = None) -> bool:
    """Queue the client's mail for the case's new status; False if there is none to send."""
    key = "insurer_query" if to == CaseStatus.INSURER_QUERY else CLIENT_TEMPLATE.get(to)
    email = case.client.email.strip() if case.client else ""
    if key is None or not email or (to == CaseStatus.INSURER_QUERY and extra is None):
        return False
    values = status_mail_values(session, case=case)
    if to == CaseStatus.CLOSED:
        values["umfrage_link"] = survey_link_marker(case)
    values.update(extra or {})
    enqueue_mail(session, idempotency_key=f"client-status:{case.id}:{case.event_count}:{to}", template_key=key,
                 recipient=email, values=values, case_id=case.id)
    return True


def document_request_mail(
    session: Session, *, case: Case, kinds: Iterable[DocumentKind | str], reason: str
) -> bool:
    """Queue ONE `document_requested` mail to the client listing the documents among `kinds` a client is asked
    for, with the upload link; once per case and `reason` (e.g. "intake", "task:<id>"). False, and nothing
    queued, if the client has no address, the case is no longer open or none of `kinds` is the client's."""
    wanted = client_requestable(kinds)
    email = case.client.email.strip() if case.client else ""
    if not wanted or not email or case.status not in OPEN_STATUSES:
        return False
    values = {**status_mail_values(session, case=case), "dokumente": ", ".join(label(k) for k in wanted),
              "upload_link": status_link_marker(case)}
    enqueue_mail(session, idempotency_key=f"client-documents:{case.id}:{reason}", template_key="document_requested",
                 recipient=email, values=values, case_id=case.id)
    return True


# --- broker and partner ------------------------------------------------------------------------


def business_sentences(recipient: str, *, previous: CaseStatus, to: CaseStatus, case: Case) -> tuple[str, str] | None:
    """(what happened, what now) for the broker or the partner about this change; None if it is not told."""
    step = BUSINESS_CHANGES.get((recipient, CaseStatus(previous), CaseStatus(to)))
    if step is None:
        return None
    if step == "closed" and case.amount_paid_cents == 0:
        step = "refused"
    return t(f"statusmail.{recipient}_{step}"), t(f"statusmail.{recipient}_{step}_next")


def _business_key(recipient: str, case_id: int, seq: int) -> str:
    return f"status-{recipient}:{case_id}:{seq}"


def _organisation(case: Case, recipient: str) -> Broker | Partner | None:
    return case.broker if recipient == BROKER else case.partner


def _wants_digest(session: Session, recipient: str, org_id: int, address: str) -> bool:
    """Whether `address` is the one of an active login of that broker or business who chose the daily digest."""
    link = User.broker_id if recipient == BROKER else User.partner_id
    return session.scalar(
        select(User.id).where(link == org_id, User.is_active.is_(True), User.digest_mode.is_(True),
                              func.lower(func.trim(User.email)) == address.lower()).limit(1)
    ) is not None


def business_status_mails(session: Session, *, case: Case, previous: CaseStatus, to: CaseStatus) -> list[str]:
    """Queue the status mails to the case's broker and partner for the change just written (the case's last
    event); returns the recipients mailed ("broker", "partner"). A missing or broken address, a change that
    does not concern them, or a digest choice sends nothing."""
    queued = []
    for recipient in (BROKER, PARTNER):
        org = _organisation(case, recipient)
        sentences = business_sentences(recipient, previous=previous, to=to, case=case) if org else None
        address = org.email.strip() if org else ""
        if sentences is None or not address:
            continue
        try:
            address = valid_email(address, required=True, field="email")
        except ValidationError:  # a stored address that is no address: the status change must still go through
            log.warning("status mail to %s %s: invalid e-mail address", recipient, org.id)
            continue
        if _wants_digest(session, recipient, org.id, address):
            continue
        values = {
            "empfaenger": org.name, "fallnummer": case.number,
            "kunde": f"{case.client.first_name} {case.client.last_name}".strip(), "kennzeichen": case.plate or "–",
            "schadenart": label(case.damage_type), "status": label(CaseStatus(to)), "ergebnis": sentences[0],
            "naechster_schritt": sentences[1], "fall_link": app_link(f"/case?nr={quote(case.number)}"),
        }
        enqueue_mail(session, idempotency_key=_business_key(recipient, case.id, case.event_count),
                     template_key=BUSINESS_TEMPLATE[recipient], recipient=address, values=values, case_id=case.id)
        queued.append(recipient)
    return queued


def business_digest_lines(session: Session, *, user: User, start: datetime, end: datetime) -> list[str]:
    """The digest lines of a broker's or partner's login for the status changes in [start, end) that were held
    back for its digest: changes that concern its organisation, whose mail would have gone to this user's
    address, and that were not mailed singly (e.g. before the digest was chosen)."""
    recipient, org_id = (BROKER, user.broker_id) if user.broker_id else (PARTNER, user.partner_id)
    org = session.get(Broker if recipient == BROKER else Partner, org_id) if org_id else None
    if org is None or org.email.strip().lower() != user.email.strip().lower():
        return []
    link = Case.broker_id if recipient == BROKER else Case.partner_id
    rows = session.execute(
        select(CaseEvent, Case).join(Case, Case.id == CaseEvent.case_id)
        .where(link == org_id, CaseEvent.action == "status_changed", CaseEvent.at >= start, CaseEvent.at < end)
        .order_by(CaseEvent.at, CaseEvent.id)
    ).all()
    keys = [_business_key(recipient, case.id, event.seq) for event, case in rows]
    mailed = set(session.scalars(select(OutboxMessage.idempotency_key)
                                 .where(OutboxMessage.idempotency_key.in_(keys)))) if keys else set()
    lines = []
    for (event, case), key in zip(rows, keys, strict=True):
        src, dst = event.details.get("from"), event.details.get("to")
        if key in mailed or src not in CaseStatus._value2member_map_ or dst not in CaseStatus._value2member_map_:
            continue
        sentences = business_sentences(recipient, previous=CaseStatus(src), to=CaseStatus(dst), case=case)
        if sentences is not None:
            lines.append(t("digest.line_change", number=case.number, result=sentences[0]))
    return lines


# --- the one entry point of the status change ------------------------------------------------


def status_change_mails(session: Session, *, case: Case, previous: CaseStatus, to: CaseStatus) -> None:
    """All mails of a status change just written: the client's, the broker's and the partner's."""
    client_status_mail(session, case=case, to=to)
    business_status_mails(session, case=case, previous=previous, to=to)
