"""Status mails to the client (§8 triggers): each status change queues the fitting template with the client's
status link, in the transaction of the change. Clients without an e-mail address get none."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.client_links import survey_link_marker
from core.client_portal import status_mail_values
from core.enums import CaseStatus
from core.outbox import enqueue_mail
from db.models import Case

#: The template for a change into each status; the query mail is queued where the query is recorded.
CLIENT_TEMPLATE: dict[CaseStatus, str] = {
    CaseStatus.REVIEW: "status_update",
    CaseStatus.CLAIM_SENT: "claim_letter_sent",
    CaseStatus.PAID: "payment_received",
    CaseStatus.CLOSED: "survey_invitation",
    CaseStatus.CANCELLED: "status_update",
}


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
