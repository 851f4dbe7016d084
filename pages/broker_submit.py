"""Fall melden: the broker's reduced intake form for its own agency's cases."""

import streamlit as st

from core.i18n import t
from core.permissions import Action
from core.ui import intake_form
from core.ui.navigation import guard

actor = guard(Action.SUBMIT_CASE)
st.title(t("intake.broker_title"))
intake_form.render(actor, broker_form=True)
