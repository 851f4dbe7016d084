"""Router only: page config -> settings/engine -> login/TOTP gate -> navigation for this user -> run."""

import streamlit as st

from core.i18n import label, t
from core.ui import resources
from core.ui.auth import gate, request_logout
from core.ui.navigation import ACTOR_KEY, pages_for, st_pages

st.set_page_config(page_title=t("app.title"), page_icon=":material/shield:", layout="wide")
settings = resources.settings()
resources.engine()

actor = gate(settings)
st.session_state[ACTOR_KEY] = actor
if actor is None:
    # Keep every page registered (hidden) so a deep link such as /case?nr=… survives the login.
    st.navigation(st_pages(pages_for(None)), position="hidden")
    st.stop()

navigation = st.navigation(st_pages(pages_for(actor)))
with st.sidebar:
    st.caption(t("app.logged_in_as", name=actor.display_name, role=label(actor.role)))
    st.button(t("app.logout"), on_click=request_logout, key="sp_logout_button")
    if settings.demo:
        st.caption(t("app.demo_banner"))
navigation.run()
