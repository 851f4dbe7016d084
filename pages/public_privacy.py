"""Datenschutz (public): the privacy notice: controller, data, purposes and legal bases, retention, rights."""

import streamlit as st

from core.i18n import t
from core.ui import resources
from core.ui.navigation import public_page

actor = public_page()
st.title(t("privacy.title"))
cfg = resources.settings()
st.markdown(t("privacy.notice", contact=cfg.smtp.sender, months=cfg.retention_months))
