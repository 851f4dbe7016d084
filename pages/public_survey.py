"""Ihre Meinung (public, from the closing mail): one 0–10 question and a comment, once per case."""

import streamlit as st

from core import client_portal
from core.client_links import LinkPurpose, LinkState
from core.errors import SchadenportalError
from core.i18n import t
from core.ui import resources
from core.ui.auth import client_ip
from core.ui.navigation import public_page
from core.ui.resources import write_session

actor = public_page()
DONE_KEY = "survey_done"  # the token this tab has just answered with
st.title(t("survey.title"))
settings = resources.settings()
token = st.query_params.get("t", "")

with write_session() as s:
    client = client_portal.client_actor_for(s, settings=settings, token=token, purpose=LinkPurpose.SURVEY,
                                              ip=client_ip())
    view = client_portal.survey_status(s, actor=client) if client is not None else None

if view is None:
    state = client_portal.link_state(settings=settings, token=token, purpose=LinkPurpose.SURVEY)
    st.error(t("survey.link_expired") if state == LinkState.EXPIRED else t("survey.link_invalid"))
    st.stop()
if view.answered:
    st.success(t("survey.thanks") if st.session_state.get(DONE_KEY) == token else t("survey.already"))
    st.stop()
if not view.closed:
    st.info(t("survey.not_closed"))
    st.stop()

with st.form("client_survey"):
    score = st.radio(t("survey.question"), list(range(11)), index=None, horizontal=True, key="survey_score")
    comment = st.text_area(t("survey.comment"), max_chars=client_portal.COMMENT_MAX)
    submitted = st.form_submit_button(t("survey.submit"), type="primary")
if submitted and score is None:
    st.error(t("survey.score_required"))
elif submitted:
    try:
        with write_session() as s:
            client_portal.submit_survey(s, actor=client, score=score, comment=comment)
    except SchadenportalError as exc:
        st.error(str(exc))
    else:
        st.session_state[DONE_KEY] = token
        st.rerun()
