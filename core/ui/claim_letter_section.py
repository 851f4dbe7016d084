"""The case page's claim letter box: preview and "approve and send" while the case is in received/review, then
the delivery record (recipient, queued and sent time, message id)."""

from __future__ import annotations

import streamlit as st

from core import claim_letters
from core.casework import CaseWorkspace
from core.errors import SchadenportalError
from core.i18n import t
from core.money import format_eur
from core.permissions import Action, Actor, can
from core.timeutil import format_dt
from core.ui.case_sections import act
from core.ui.resources import read_session, settings


def may_send(actor: Actor) -> bool:
    """The role may send claim letters (the case scope is checked again by the core calls)."""
    return can(actor, Action.SEND_CLAIM_LETTER)


def claim_letter(actor: Actor, ws: CaseWorkspace) -> None:
    """Preview and send, or the delivery record once the letter is out."""
    if not may_send(actor):
        return
    v = ws.view
    st.subheader(t("claim.title"))
    if v.status in claim_letters.SENDABLE:
        _preview_and_send(actor, ws)
    _delivery(actor, v.number)


def _preview_and_send(actor: Actor, ws: CaseWorkspace) -> None:
    number, version = ws.view.number, ws.view.version
    try:
        with read_session() as s:
            draft = claim_letters.preview_claim_letter(s, actor=actor, number=number)
    except SchadenportalError as exc:
        st.warning(str(exc))
        return
    st.caption(t("claim.preview", recipient=draft.recipient, amount=format_eur(draft.amount_claimed_cents)))
    with st.expander(t("claim.show_text")):
        st.text(draft.subject)
        st.text("\n\n".join(draft.paragraphs))
    st.caption(t("claim.signed_by" if draft.signed else "claim.approved_by", name=draft.signer))
    if st.button(t("claim.send"), type="primary", key="claim_letter_send"):
        act(lambda s: claim_letters.send_claim_letter(s, actor=actor, settings=settings(), number=number,
                                                      expected_version=version),
            lambda sent: t("claim.sent", recipient=sent.recipient))


def _delivery(actor: Actor, number: str) -> None:
    with read_session() as s:
        record = claim_letters.delivery_record(s, actor=actor, number=number)
    if record is None:
        return
    st.caption(t("claim.delivery"))
    sent = format_dt(record.sent_at) if record.sent_at else t("claim.not_sent_yet")
    st.text(t("claim.delivery_line", recipient=record.recipient, queued=format_dt(record.queued_at), sent=sent,
              message_id=record.message_id or "–"))
    if record.last_error and record.sent_at is None:
        st.warning(t("claim.delivery_error", attempts=record.attempts))

