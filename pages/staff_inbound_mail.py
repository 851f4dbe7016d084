"""Posteingang: insurer mail the worker could not file by itself; staff assign it to a case or dismiss it."""

import pandas as pd
import streamlit as st

from core import inbound_mail
from core.i18n import label, t
from core.permissions import Action
from core.timeutil import format_dt
from core.ui.list_log import log_mail_lists_once
from core.ui.navigation import guard
from core.ui.resources import read_session, settings
from core.ui.widgets import act, case_link_column, case_url, show_notice

actor = guard(Action.HANDLE_INBOUND_MAIL)
st.title(t("inmail.title"))
st.caption(t("inmail.intro"))
NOTICE = "inmail_notice"
show_notice(NOTICE)

with read_session() as s:
    held = inbound_mail.list_unassigned_mail(s, actor=actor)
    filed = inbound_mail.list_filed_mail(s, actor=actor)
log_mail_lists_once(actor=actor, held=held, filed=filed)  # senders and subjects shown: logged once per set

st.subheader(t("inmail.held_header", count=len(held)))
if not held:
    st.info(t("inmail.empty"))
else:
    st.dataframe(
        pd.DataFrame({
            t("inmail.col_received"): [format_dt(m.received_at) for m in held],
            t("inmail.col_sender"): [m.sender for m in held],
            t("inmail.col_subject"): [m.subject for m in held],
            t("inmail.col_reason"): [label(m.hold_reason) if m.hold_reason else "" for m in held],
            t("inmail.col_numbers"): [", ".join(m.matched_numbers) for m in held],
            t("inmail.col_attachments"): [", ".join(m.attachments) for m in held],
            t("inmail.col_rejected"): ["; ".join(m.rejected) for m in held],
        }),
        hide_index=True, width="stretch",
    )
    by_id = {m.id: m for m in held}
    chosen = by_id[st.selectbox(t("inmail.choose"), list(by_id),
                                format_func=lambda i: f"{by_id[i].sender} – {by_id[i].subject or '—'}")]
    st.caption(t("inmail.from_line", sender=chosen.sender_name or chosen.sender,
                 sent=format_dt(chosen.sent_at) if chosen.sent_at else "—"))
    st.text(chosen.excerpt or t("inmail.no_text"))
    for note in chosen.rejected:
        st.warning(t("inmail.rejected_note", note=note))

    assign, dismiss = st.columns(2)
    with assign.form(f"assign_{chosen.id}", border=True):
        number = st.text_input(t("inmail.case_number"), max_chars=40,
                               value=chosen.matched_numbers[0] if len(chosen.matched_numbers) == 1 else "")
        as_query = st.checkbox(t("inmail.as_query"), value=chosen.is_query)
        if st.form_submit_button(t("inmail.assign"), type="primary"):
            act(lambda s: inbound_mail.assign_inbound_mail(s, actor=actor, settings=settings(), mail_id=chosen.id,
                                                           case_number=number, as_query=as_query),
                lambda nr: t("inmail.assigned", number=nr), notice_key=NOTICE)
    with dismiss.form(f"dismiss_{chosen.id}", border=True):
        reason = st.text_input(t("inmail.dismiss_reason"), max_chars=300)
        if st.form_submit_button(t("inmail.dismiss")):
            act(lambda s: inbound_mail.dismiss_inbound_mail(s, actor=actor, settings=settings(), mail_id=chosen.id,
                                                            reason=reason),
                t("inmail.dismissed"), notice_key=NOTICE)

st.subheader(t("inmail.filed_header"))
if not filed:
    st.caption(t("inmail.filed_empty"))
else:
    st.dataframe(
        pd.DataFrame({
            t("col.link"): [case_url(m.case_number) for m in filed],
            t("inmail.col_received"): [format_dt(m.received_at) for m in filed],
            t("inmail.col_sender"): [m.sender for m in filed],
            t("inmail.col_subject"): [m.subject for m in filed],
            t("inmail.col_by"): [m.handled_by for m in filed],
            t("inmail.col_attachments"): [", ".join(m.attachments) for m in filed],
            t("inmail.col_rejected"): ["; ".join(m.rejected) for m in filed],
        }),
        column_config=case_link_column(), hide_index=True, width="stretch",
    )
