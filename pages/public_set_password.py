"""Passwort festlegen (public, reached from the welcome mail): set the password with a one-time link."""

import streamlit as st

from core import auth
from core.errors import SchadenportalError
from core.i18n import t
from core.ui import resources
from core.ui.navigation import public_page
from core.ui.resources import write_session

actor = public_page()
DONE_KEY = "setpw_done"  # (token, username) once this tab has used the link
st.title(t("setpw.title"))
token = st.query_params.get("token", "")

done = st.session_state.get(DONE_KEY)
if token and done and done[0] == token:
    st.success(t("setpw.done", username=done[1]))
    st.page_link("pages/home.py", label=t("setpw.to_login"), icon=":material/login:")
    st.stop()
if not token:
    st.error(t("setpw.invalid"))
    st.stop()

st.write(t("setpw.intro"))
with st.form("set_password", clear_on_submit=True):
    new = st.text_input(t("account.new_password"), type="password")
    repeat = st.text_input(t("account.repeat_password"), type="password")
    submitted = st.form_submit_button(t("setpw.submit"), type="primary")
if submitted and new != repeat:
    st.error(t("account.mismatch"))
elif submitted:
    try:
        with write_session() as s:
            username = auth.set_password_with_token(s, settings=resources.settings(), token=token, new_password=new)
    except SchadenportalError as exc:
        st.error(str(exc))
    else:
        st.session_state[DONE_KEY] = (token, username)
        st.rerun()
