"""Mein Konto: change the password (ends the other sessions); second-factor status; daily digest choice."""

import streamlit as st

from core import auth, users
from core.errors import SchadenportalError
from core.i18n import label, t
from core.permissions import Action
from core.ui.auth import SESSION_KEY
from core.ui.navigation import guard
from core.ui.resources import write_session

actor = guard(Action.VIEW_ACCOUNT)
st.title(t("account.title"))
st.write(f"**{actor.display_name}** · {actor.username} · {label(actor.role)}")

with write_session() as s:
    totp = auth.totp_status(s, user_id=actor.user_id)
    digest = users.set_digest_mode(s, actor=actor)  # without `enabled`: only reads the choice
st.caption(t("account.totp_on") if totp.enrolled else t("account.totp_off"))

st.subheader(t("account.notifications"))
wanted = st.checkbox(t("account.digest"), value=digest, help=t("account.digest_help"))
if wanted != digest:
    with write_session() as s:
        users.set_digest_mode(s, actor=actor, enabled=wanted)
    st.success(t("account.digest_on") if wanted else t("account.digest_off"))

st.subheader(t("account.change_password"))
with st.form("change_password", clear_on_submit=True):
    current = st.text_input(t("account.current_password"), type="password")
    new = st.text_input(t("account.new_password"), type="password")
    repeat = st.text_input(t("account.repeat_password"), type="password")
    if st.form_submit_button(t("account.save")):
        try:
            with write_session() as s:
                auth.change_own_password(
                    s, actor=actor, current=current, new=new, repeat=repeat,
                    keep_session=st.session_state.get(SESSION_KEY),
                )
        except SchadenportalError as exc:
            st.error(str(exc))
        else:
            st.success(t("account.password_changed"))
