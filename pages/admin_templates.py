"""Textbausteine (admin): edit subject and text, see the placeholders, preview on a real case, save, reset."""

import streamlit as st

from core import templates
from core.errors import SchadenportalError
from core.i18n import t
from core.permissions import Action
from core.timeutil import format_dt
from core.ui.navigation import guard
from core.ui.resources import read_session, settings, write_session
from core.ui.widgets import act, show_notice

actor = guard(Action.MANAGE_TEMPLATES)
st.title(t("tpl.title"))
st.caption(t("tpl.intro"))

with read_session() as s:
    infos = {i.key: i for i in templates.list_templates(s, actor=actor)}

show_notice("tpl_notice")
# the option labels never change, so the selection stays put after a save
key = st.selectbox(t("tpl.select"), list(infos), format_func=lambda k: infos[k].name, key="tpl_key")
info = infos[key]
state = t("tpl.changed").capitalize() if info.changed else t("tpl.is_default")
st.caption(" · ".join([state] + ([t("tpl.last_change", at=format_dt(info.updated_at), by=info.updated_by)]
                                 if info.updated_at else [])))

# widget keys carry a revision, bumped on reset, so the fields show the restored text afterwards
rev = st.session_state.setdefault("tpl_rev", 0)
editor, side = st.columns([3, 2])
with editor:
    subject = st.text_input(t("tpl.subject"), value=info.subject, key=f"tpl_subject_{key}_{rev}")
    body = st.text_area(t("tpl.body"), value=info.body, height=260, key=f"tpl_body_{key}_{rev}")
    save, reset = st.columns(2)
    if save.button(t("tpl.save"), type="primary", key="tpl_save"):
        act(lambda s: templates.save_template(s, actor=actor, key=key, subject=subject, body=body), t("tpl.saved"),
            notice_key="tpl_notice")

    def after_reset(_result: object) -> str:
        st.session_state["tpl_rev"] = rev + 1
        return t("tpl.reset_done")

    if reset.button(t("tpl.reset"), disabled=not info.changed, key="tpl_reset"):
        act(lambda s: templates.reset_template(s, actor=actor, key=key), after_reset, notice_key="tpl_notice")

with side:
    st.subheader(t("tpl.placeholders"))
    st.dataframe(
        [{t("tpl.col_placeholder"): "{" + name + "}", t("tpl.col_description"): text}
         for name, text in info.placeholders],
        hide_index=True, width="stretch",
    )

st.subheader(t("tpl.preview"))
case_number = st.text_input(t("tpl.preview_case"), help=t("tpl.preview_case_help"), key="tpl_case")
try:
    with (write_session if case_number.strip() else read_session)() as s:  # opening a case is logged
        mail = templates.preview(s, actor=actor, key=key, subject=subject, body=body, case_number=case_number,
                                 base_url=settings().base_url)
except SchadenportalError as exc:
    st.error(str(exc))
else:
    with st.container(border=True):  # plain text: nothing in a template or a case is read as markdown
        st.text(mail.subject)
        st.divider()
        st.text(mail.body)
    if mail.examples:
        st.caption(t("tpl.examples", names=", ".join("{" + n + "}" for n in mail.examples)))
