"""Datenschutz (public): the short privacy notice."""

import streamlit as st

from core.i18n import t
from core.ui import resources
from core.ui.navigation import public_page

actor = public_page()
st.title(t("privacy.title"))
st.markdown(t("privacy.body", contact=resources.settings().smtp.sender))
