"""Postausgang (admin): counts, the list by status, resend of failed mails, the .eml files (no SMTP)."""

import re
from functools import partial

import streamlit as st

from core import outbox_admin
from core.enums import OutboxStatus
from core.i18n import label, t
from core.mailer import mail_dir
from core.outbox import list_mail_files, read_mail_file
from core.permissions import Action
from core.timeutil import format_dt
from core.ui.navigation import guard
from core.ui.resources import read_session, settings, write_session
from core.ui.widgets import act, show_notice

actor = guard(Action.MANAGE_SETTINGS)
st.title(t("outbox.title"))
EML_LIMIT = 200


def plain(text: str) -> str:
    """`text` for a widget label, which Streamlit reads as markdown: every markdown character escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~<>$:])", r"\\\1", " ".join(text.split()))


with read_session() as s:
    counts = outbox_admin.outbox_counts(s, actor=actor)

show_notice("outbox_notice")
for column, status in zip(st.columns(len(OutboxStatus)), OutboxStatus, strict=True):
    column.metric(label(status), counts[status])

choices: list[OutboxStatus | None] = [None, *OutboxStatus]
status = st.selectbox(
    t("outbox.filter"), choices, index=choices.index(OutboxStatus.FAILED) if counts[OutboxStatus.FAILED] else 0,
    format_func=lambda x: t("outbox.all") if x is None else label(x), key="outbox_filter",
)
with write_session() as s:  # the list is logged: mails hold personal data
    rows = outbox_admin.list_outbox(s, actor=actor, status=status)

if not rows:
    next_step = t("empty.outbox_none_next") if status is None else t("empty.outbox_filtered_next")
    st.info(f"{t('outbox.none')} {next_step}")
else:
    st.dataframe(
        [
            {
                t("outbox.col_created"): format_dt(r.created_at), t("outbox.col_status"): label(r.status),
                t("outbox.col_recipient"): r.recipient, t("outbox.col_subject"): r.subject,
                t("outbox.col_attempts"): r.attempts,
                t("outbox.col_next"): format_dt(r.next_attempt_at) if r.status != OutboxStatus.SENT else "",
                t("outbox.col_sent"): format_dt(r.sent_at), t("outbox.col_error"): r.last_error,
            }
            for r in rows
        ],
        hide_index=True, width="stretch",
    )

failed = [r for r in rows if r.status == OutboxStatus.FAILED]
if failed:
    st.subheader(t("outbox.failed_head"))
for r in failed:
    with st.container(border=True):
        st.text(t("outbox.failed_item", subject=r.subject, recipient=r.recipient, attempts=r.attempts))
        st.text(r.last_error)  # plain text: an SMTP answer is never read as markdown
        if st.button(t("outbox.resend"), key=f"resend_{r.id}"):
            act(lambda s, message_id=r.id: outbox_admin.resend(s, actor=actor, message_id=message_id),
                t("outbox.resent"), notice_key="outbox_notice")

cfg = settings()
if not cfg.smtp.configured:
    directory = mail_dir(cfg)
    st.subheader(t("outbox.eml_head"))
    st.caption(t("outbox.eml_hint", path=str(directory), limit=EML_LIMIT))
    files = list_mail_files(actor=actor, directory=directory, limit=EML_LIMIT)
    if not files:
        st.info(t("outbox.eml_none"))
    for i, f in enumerate(files):
        st.download_button(
            plain(t("outbox.eml_item", at=format_dt(f.modified), recipient=f.recipient, subject=f.subject)),
            data=partial(read_mail_file, actor=actor, directory=directory, name=f.name), file_name=f.name,
            mime="message/rfc822", on_click="ignore", icon=":material/download:", key=f"eml_{i}",
        )
