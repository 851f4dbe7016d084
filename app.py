"""Router only: page config -> settings/engine -> who is logged in -> navigation for this user -> run.

Nobody logged in: the login page, "Partner werden" and "Datenschutz" are in the menu and run without login;
every other page stays registered (hidden) and shows the login instead, so a deep link such as
/case?nr=… survives the login.
"""

import streamlit as st

from core.i18n import label, t
from core.logs import configure_logging
from core.ui import resources
from core.ui.activity import logged_page_run
from core.ui.auth import LoginGate, request_logout
from core.ui.navigation import ACTOR_KEY, opens_without_login, pages_for, st_pages

st.set_page_config(page_title=t("app.title"), page_icon=":material/shield:", layout="wide")
configure_logging()  # JSON lines on stderr, level from LOG_LEVEL (once per process; cheap on reruns)
settings = resources.settings()
resources.engine()

gate = LoginGate(settings)
actor = gate.actor()
st.session_state[ACTOR_KEY] = actor
page = st.navigation(st_pages(pages_for(actor), actor, login=None if actor else gate.render_login),
                     expanded=True)  # every page listed: no collapsed, English "View 13 more"
if actor is None and not opens_without_login(page):
    gate.render_login()
    st.stop()
with st.sidebar:
    if actor is not None:
        st.caption(t("app.logged_in_as", name=actor.display_name, role=label(actor.role)))
        st.button(t("app.logout"), on_click=request_logout, key="sp_logout_button")
    if settings.demo:
        st.caption(t("app.demo_banner"))
with logged_page_run(page.url_path):  # one JSON line per page run: user, role, case, duration, outcome
    page.run()
