"""What a client sees and does through its link (§3 client): the live status in plain German, uploads of the
documents asked of it, a new link on request, and the one NPS answer at closing. No account: the link's token
(core.client_links) makes an Actor with role CLIENT bound to one case; every call re-checks that scope.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit import log_access
from core.client_links import (
    LinkPurpose,
    LinkState,
    case_fingerprint,
    read_token,
    status_link_marker,
    survey_link_marker,
)
from core.documents import DocumentVersionView, add_document
from core.enums import OPEN_STATUSES, CaseStatus, DocumentKind, Role
from core.errors import NotFound, ValidationError
from core.events import append_event
from core.i18n import label, t
from core.lifecycle import INSURER_SILENCE_REMINDER, claim_letter_due
from core.outbox import enqueue_mail
from core.permissions import Action, Actor, can, require
from core.settings import Settings
from core.templates import case_values
from core.timeutil import format_date, format_dt, now, to_berlin
from db.models import Case, InsurerQuery, SurveyAnswer, Task

__all__ = [
    "COMMENT_MAX", "STATUS_LINK_TEMPLATE", "ClientStatusView", "RequestedDocument", "SurveyView",
    "client_actor_for", "client_requestable", "client_status", "link_state", "queue_status_link_mail", "request_new_link",
    "status_link_marker", "status_mail_values", "submit_survey", "survey_link_marker", "survey_status",
    "upload_requested_document",
]

#: The template of the mail that brings the client its status link (at intake and on request).
STATUS_LINK_TEMPLATE = "status_update"
COMMENT_MAX = 1000
#: Kinds a client is never asked for, even if a task names them (internal papers).
_NOT_FROM_CLIENT = frozenset({DocumentKind.LETTER, DocumentKind.CLAIM_LETTER})
_DOCUMENT_TASK = "document:"
_VISITOR = Actor(user_id=None, username="client-link", display_name=t("client.actor_name"), role=Role.CLIENT)


# --- the link ---------------------------------------------------------------------------------


def link_state(*, settings: Settings, token: str, purpose: LinkPurpose) -> LinkState:
    """Valid, expired or invalid as far as the token alone tells (the page picks its message by it)."""
    return read_token(settings, token=token, purpose=purpose).state


def client_actor_for(
    session: Session, *, settings: Settings, token: str, purpose: LinkPurpose, ip: str = "",
    at: datetime | None = None,
) -> Actor | None:
    """The client actor of a valid link (bound to its case); None, and a logged refusal, for any other."""
    claims = read_token(settings, token=token, purpose=purpose, at=at)
    case = session.get(Case, claims.case_id) if claims.state == LinkState.VALID else None
    if case is None or not hmac.compare_digest(case_fingerprint(case).encode(), claims.fingerprint.encode()):
        reason = str(claims.state) if claims.state != LinkState.VALID else "revoked"
        log_access(session, actor=replace(_VISITOR, ip=ip), action="refused", object_type="client_link",
                   object_ref=str(purpose), detail=reason)
        return None
    return Actor(user_id=None, username=f"client:{case.number}"[:64], display_name=t("client.actor_name"),
                 role=Role.CLIENT, case_id=case.id, ip=ip)


def _own_case(session: Session, actor: Actor, *, lock: bool = False) -> Case:
    if actor.case_id is None:
        raise NotFound(t("case.refused"))
    stmt = select(Case).where(Case.id == actor.case_id)
    if lock:
        stmt = stmt.with_for_update(of=Case).execution_options(populate_existing=True)
    case = session.scalar(stmt)
    if case is None or not can(actor, Action.VIEW_CASE, case):
        raise NotFound(t("case.refused"))
    return case


# --- the status ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestedDocument:
    kind: DocumentKind
    label: str
    due_at: datetime | None


@dataclass(frozen=True)
class ClientStatusView:
    """All a client sees: nothing else (no notes, partner, amounts, people)."""

    case_number: str
    status: CaseStatus
    status_label: str
    what_happened: str  # one sentence
    next_step: str  # one sentence, with a date where there is one
    requested: tuple[RequestedDocument, ...]  # empty once the case is no longer open

    @property
    def may_upload(self) -> bool:
        return bool(self.requested)


def client_requestable(kinds: Iterable[DocumentKind | str]) -> list[DocumentKind]:
    """The kinds among `kinds` (members or values, e.g. from a `document:<kind>` task) a client may be asked for
    and may upload, each once, in the order of `DocumentKind`."""
    given = {str(k) for k in kinds}
    return [kind for kind in DocumentKind if kind.value in given and kind not in _NOT_FROM_CLIENT]


def _requested(session: Session, case: Case) -> tuple[RequestedDocument, ...]:
    if case.status not in OPEN_STATUSES:
        return ()
    tasks = session.execute(
        select(Task.kind, func.min(Task.due_at)).where(
            Task.case_id == case.id, Task.kind.startswith(_DOCUMENT_TASK), Task.done_at.is_(None)
        ).group_by(Task.kind)
    ).all()
    found: dict[DocumentKind, datetime | None] = {}
    for kind, due in tasks:
        value = kind.removeprefix(_DOCUMENT_TASK)
        if value in DocumentKind._value2member_map_ and DocumentKind(value) not in _NOT_FROM_CLIENT:
            found[DocumentKind(value)] = due
    return tuple(RequestedDocument(kind, label(kind), found[kind]) for kind in DocumentKind if kind in found)


def _sentences(session: Session, case: Case, at: datetime) -> tuple[str, str]:
    """(what happened, what happens next and when), in plain German (§8)."""
    status = case.status
    if status == CaseStatus.RECEIVED or status == CaseStatus.REVIEW:
        due = claim_letter_due(case.received_at)
        happened = t(f"client.happened_{status}", date=format_date(_day(case.received_at)))
        nxt = t("client.next_claim", due=format_dt(due)) if due > at else t("client.next_claim_soon")
        return happened, nxt
    if status == CaseStatus.CLAIM_SENT:
        sent = case.claim_letter_sent_at
        if sent is None:
            return t("client.happened_claim_sent_undated"), t("client.next_answer_undated")
        expected = sent + INSURER_SILENCE_REMINDER
        nxt = (t("client.next_answer", date=format_date(_day(expected))) if expected > at
               else t("client.next_answer_late"))
        return t("client.happened_claim_sent", date=format_date(_day(sent))), nxt
    if status == CaseStatus.INSURER_QUERY:
        due = session.scalar(
            select(InsurerQuery.due_at).where(InsurerQuery.case_id == case.id, InsurerQuery.answered_at.is_(None))
            .order_by(InsurerQuery.received_at.desc()).limit(1)
        )
        nxt = t("client.next_query", date=format_date(_day(due))) if due else t("client.next_query_undated")
        return t("client.happened_query"), nxt
    if status == CaseStatus.PAID:
        return t("client.happened_paid", date=format_date(_day(case.paid_at or at))), t("client.next_paid")
    if status == CaseStatus.CLOSED:
        key = "client.happened_refused" if case.amount_paid_cents == 0 else "client.happened_closed"
        return t(key, date=format_date(_day(case.closed_at or at))), t("client.next_nothing")
    return t("client.happened_cancelled", date=format_date(_day(case.cancelled_at or at))), t("client.next_nothing")


def _day(value: datetime) -> date:
    return to_berlin(value).date()


def client_status(session: Session, *, actor: Actor, at: datetime | None = None) -> ClientStatusView:
    """The client's view of its case: status, one sentence what happened, one what comes next, requested
    documents; logged."""
    case = _own_case(session, actor)
    log_access(session, actor=actor, action="view", object_type="case", object_ref=case.number, detail="client_status")
    happened, nxt = _sentences(session, case, at or now())
    requested = _requested(session, case)
    if requested:
        nxt = f"{nxt} {t('client.next_documents')}"
    return ClientStatusView(case.number, case.status, label(case.status), happened, nxt, requested)


def upload_requested_document(
    session: Session, *, actor: Actor, settings: Settings, kind: DocumentKind, filename: str, data: bytes
) -> DocumentVersionView:
    """Store a document the client was asked for (same checks as every upload); the request is done with it."""
    case = _own_case(session, actor, lock=True)
    require(actor, Action.UPLOAD_DOCUMENT, case)
    kind = DocumentKind(kind)
    if kind not in {doc.kind for doc in _requested(session, case)}:
        log_access(session, actor=actor, action="refused", object_type="document", object_ref=case.number,
                   detail=f"not requested: {kind}")
        raise ValidationError(t("client.not_requested"), field="kind")
    version = add_document(session, actor=actor, settings=settings, number=case.number, kind=kind,
                           filename=filename, data=data)
    log_access(session, actor=actor, action="upload", object_type="document", object_ref=str(version.id),
               detail=str(kind))
    return version


# --- a new link ------------------------------------------------------------------------------

#: One mail per case and window at most, however often the form is sent.
NEW_LINK_WINDOW_SECONDS = 600


def status_mail_values(session: Session, *, case: Case, at: datetime | None = None) -> dict[str, str]:
    """Values for a mail to the client about its case (template `status_update` and the like): the case's
    values, the client as recipient, the next step as on the status page, and the status-link marker."""
    client = case.client
    _happened, next_step = _sentences(session, case, at or now())
    return {
        **case_values(session, case), "empfaenger": f"{client.first_name} {client.last_name}".strip(),
        "naechster_schritt": next_step, "status_link": status_link_marker(case),
    }


def queue_status_link_mail(
    session: Session, *, case: Case, reason: str, template_key: str = STATUS_LINK_TEMPLATE
) -> bool:
    """Queue the mail with the client's status link (once per case and `reason`); False if it has no address."""
    email = case.client.email.strip() if case.client else ""
    if not email:
        return False
    enqueue_mail(session, idempotency_key=f"client-status-link:{case.id}:{reason}", template_key=template_key,
                 recipient=email, values=status_mail_values(session, case=case), case_id=case.id)
    return True


def request_new_link(
    session: Session, *, case_number: str, email: str, ip: str = "", template_key: str = STATUS_LINK_TEMPLATE,
    at: datetime | None = None,
) -> None:
    """Mail a fresh status link to the client if number and address belong together; the caller shows the same
    answer either way (nothing tells whether a case exists)."""
    number, address = case_number.strip().upper(), email.strip().lower()
    case = session.scalar(select(Case).where(func.upper(Case.number) == number)) if number else None
    known = case.client.email.strip().lower() if case is not None and case.client else ""
    matches = bool(address) and bool(known) and hmac.compare_digest(known.encode(), address.encode())
    log_access(session, actor=replace(_VISITOR, ip=ip), action="link_requested" if matches else "refused",
               object_type="client_link", object_ref=number[:64])
    if matches:
        window = int((at or now()).timestamp()) // NEW_LINK_WINDOW_SECONDS
        queue_status_link_mail(session, case=case, reason=f"request:{window}", template_key=template_key)


# --- the survey ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyView:
    case_number: str
    closed: bool
    answered: bool


def survey_status(session: Session, *, actor: Actor) -> SurveyView:
    """Whether the client's case can take its survey answer (closed, not answered yet)."""
    case = _own_case(session, actor)
    answered = session.scalar(select(SurveyAnswer.id).where(SurveyAnswer.case_id == case.id)) is not None
    return SurveyView(case.number, case.status == CaseStatus.CLOSED, answered)


def submit_survey(session: Session, *, actor: Actor, score: int, comment: str = "") -> SurveyAnswer:
    """Record the client's NPS answer (0–10 and a comment): once per case, only for a closed case."""
    case = _own_case(session, actor, lock=True)  # the lock serialises two answers sent at once
    if case.status != CaseStatus.CLOSED:
        raise ValidationError(t("survey.not_closed"))
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise ValidationError(t("survey.score_range"), field="score")
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError(t("survey.comment_too_long", max=COMMENT_MAX), field="comment")
    if session.scalar(select(SurveyAnswer.id).where(SurveyAnswer.case_id == case.id)) is not None:
        raise ValidationError(t("survey.already"))
    answer = SurveyAnswer(case_id=case.id, score=score, comment=comment, answered_at=now())
    session.add(answer)
    append_event(session, case=case, actor=actor, action="survey_answered", details={"score": score})
    session.flush()
    return answer
