"""The case page's share links (§9): make a link to one document version (shown once), list and revoke them."""

from __future__ import annotations

import streamlit as st

from core import share_links
from core.casework import CaseWorkspace
from core.errors import SchadenportalError
from core.i18n import label, t
from core.permissions import Action, Actor, can
from core.timeutil import format_dt
from core.ui import widgets
from core.ui.resources import read_session, settings, write_session

CREATED_KEY = "share_created"  # (case number, link): shown on the next run only
NOTICE = "share_notice"


def share_section(actor: Actor, ws: CaseWorkspace) -> None:
    """The form to share a document version and the case's active links with a revoke button each."""
    if not can(actor, Action.SHARE_DOCUMENT) or not ws.documents:
        return
    number = ws.view.number
    st.divider()
    st.subheader(t("share.section"))
    st.caption(t("share.section_help"))
    widgets.show_notice(NOTICE)
    created = st.session_state.pop(CREATED_KEY, None)
    if created is not None and created[0] == number:
        st.success(t("share.created"))
        st.code(created[1], language=None)
    versions = {v.id: f"{label(doc.kind)} v{v.version} · {v.name}" for doc in ws.documents for v in doc.versions}
    with st.form("share_create", clear_on_submit=True):
        version_id = st.selectbox(t("share.version"), list(versions), format_func=versions.get, key="share_version")
        c1, c2 = st.columns([3, 1])
        kind = c1.selectbox(t("share.recipient_kind"), list(share_links.ShareRecipient), format_func=label,
                            key="share_kind")
        days = c2.number_input(t("share.days"), min_value=1, max_value=share_links.MAX_DAYS,
                               value=share_links.DEFAULT_DAYS, step=1, key="share_days")
        recipient = st.text_input(t("share.recipient"), max_chars=share_links.MAX_RECIPIENT, key="share_recipient")
        purpose = st.text_input(t("share.purpose"), max_chars=share_links.MAX_PURPOSE, key="share_purpose")
        if st.form_submit_button(t("share.create")):
            try:
                with write_session() as s:
                    made = share_links.create_share_link(
                        s, actor=actor, settings=settings(), version_id=version_id, recipient_kind=kind,
                        recipient=recipient, purpose=purpose, days=int(days),
                    )
            except SchadenportalError as exc:
                st.error(str(exc))
            else:
                st.session_state[CREATED_KEY] = (number, made.url)
                st.rerun()
    with read_session() as s:
        links = share_links.list_share_links(s, actor=actor, case_number=number)
    st.markdown(f"**{t('share.active')}**")
    if not links:
        st.caption(t("share.none"))
    for link in links:
        c1, c2 = st.columns([5, 1])
        c1.text(t("share.link_line", document=link.document, file=link.file_name, recipient=link.recipient,
                  kind=label(link.recipient_kind), purpose=link.purpose, expires=format_dt(link.expires_at),
                  count=link.download_count, by=link.created_by))
        if c2.button(t("share.revoke"), key=f"share_revoke_{link.id}"):
            widgets.act(lambda s, lid=link.id: share_links.revoke_share_link(s, actor=actor, link_id=lid),
                        t("share.revoked"), notice_key=NOTICE)
