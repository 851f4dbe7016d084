"""The info mail to a partner for each new order, with the prefilled assignment declaration (§8, §11)."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.orm import Session

from core import webhooks
from core.events import append_event
from core.i18n import label
from core.outbox import app_link, enqueue_mail
from core.permissions import SYSTEM
from db.models import Assignment, Case, Partner

ATTACHMENT_KIND = "assignment_declaration"


def queue_order_mail(session: Session, *, case: Case, assignment: Assignment) -> bool:
    """Queue the order mail (the declaration is rendered when it is sent) and the `order.assigned` webhook;
    False, with an event on the case, if the partner has no e-mail address."""
    partner = session.get(Partner, assignment.partner_id)
    webhooks.emit(session, event="order.assigned", case=case, data={"origin": str(assignment.origin)})
    if not partner.email:
        append_event(session, case=case, actor=SYSTEM, action="order_mail_skipped",
                     details={"partner": partner.name, "reason": "no_email"})
        return False
    enqueue_mail(
        session, idempotency_key=f"order:{assignment.id}", template_key="order_assigned", recipient=partner.email,
        case_id=case.id,
        values={"betrieb": partner.name, "fallnummer": case.number, "schadenart": label(case.damage_type),
                "ort": case.postal_code, "auftrag_link": app_link(f"/case?nr={quote(case.number)}")},
        attachments=[{"kind": ATTACHMENT_KIND, "ref": case.id, "filename": f"Abtretungserklaerung-{case.number}.pdf"}],
    )
    return True
