"""Neuer Fall: the clerk's intake form."""

import streamlit as st

from core.i18n import t
from core.permissions import Action
from core.ui import intake_form
from core.ui.navigation import guard

actor = guard(Action.CREATE_CASE)
st.title(t("intake.title"))
intake_form.render(actor, broker_form=False)
