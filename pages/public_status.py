"""Stand Ihres Falls (public, from the client's mails): status, next step, requested uploads; else a new link."""

import streamlit as st

from core import client_portal
from core.client_links import LinkPurpose, LinkState
from core.i18n import t
from core.timeutil import format_dt
from core.ui import resources
from core.ui.auth import client_ip
from core.ui.navigation import public_page
from core.ui.resources import write_session
from core.ui.widgets import act, show_notice

actor = public_page()
NOTICE_KEY = "client_status_notice"
UPLOAD_TYPES = ["pdf", "jpg", "jpeg", "png", "heic"]  # decided by content in core; this only filters the dialog
st.title(t("client.title"))
settings = resources.settings()
token = st.query_params.get("t", "")

with write_session() as s:  # the view (or the refusal) is logged
    client = client_portal.client_actor_for(s, settings=settings, token=token, purpose=LinkPurpose.STATUS,
                                              ip=client_ip())
    view = client_portal.client_status(s, actor=client) if client is not None else None

if view is None:
    state = client_portal.link_state(settings=settings, token=token, purpose=LinkPurpose.STATUS)
    st.error(t("client.link_expired") if state == LinkState.EXPIRED else t("client.link_invalid"))
    st.subheader(t("client.new_link_title"))
    st.write(t("client.new_link_intro"))
    with st.form("client_new_link", clear_on_submit=True):
        number = st.text_input(t("client.new_link_number"))
        email = st.text_input(t("client.new_link_email"))
        if st.form_submit_button(t("client.new_link_submit"), type="primary"):
            act(lambda s: client_portal.request_new_link(s, case_number=number, email=email, ip=client_ip()),
                t("client.new_link_sent"), notice_key=NOTICE_KEY)
    show_notice(NOTICE_KEY)
    st.stop()

show_notice(NOTICE_KEY)
st.text(t("client.case_number", number=view.case_number))
st.subheader(t("client.status", status=view.status_label))
st.write(view.what_happened)  # catalog sentences with dates only
st.write(view.next_step)
if view.requested:
    st.subheader(t("client.requested"))
for doc in view.requested:
    with st.form(f"client_upload_{doc.kind}", clear_on_submit=True):
        due = f" · {t('client.requested_due', due=format_dt(doc.due_at))}" if doc.due_at else ""
        st.write(f"**{doc.label}**{due}")
        file = st.file_uploader(t("client.file"), type=UPLOAD_TYPES, key=f"file_{doc.kind}")
        if st.form_submit_button(t("client.upload")):
            if file is None:
                st.error(t("client.no_file"))
            else:
                act(lambda s, kind=doc.kind, f=file: client_portal.upload_requested_document(
                    s, actor=client, settings=settings, kind=kind, filename=f.name, data=f.getvalue()),
                    t("client.uploaded", name=doc.label), notice_key=NOTICE_KEY)
