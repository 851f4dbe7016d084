"""Mein Betrieb: the partner's own address, contact, IBAN, weekly capacity and holiday pause."""

import streamlit as st

from core import partners
from core.i18n import label, t
from core.permissions import Action
from core.timeutil import format_date
from core.ui.navigation import guard
from core.ui.resources import read_session
from core.ui.widgets import act, show_notice

actor = guard(Action.EDIT_OWN_PROFILE)
st.title(t("profile.title"))
show_notice("profile_notice")

with read_session() as s:
    p = partners.get_own_profile(s, actor=actor)
st.write(f"**{p.name}** · {label(p.kind)} · {t('profile.regions')}: {p.regions or '–'}")
if p.trial_until:
    st.caption(t("profile.trial", date=format_date(p.trial_until)))

with st.form("partner_profile"):
    street = st.text_input(t("intake.street"), value=p.street)
    c1, c2 = st.columns([1, 3])
    postal_code = c1.text_input(t("intake.postal_code"), value=p.postal_code, max_chars=5)
    city = c2.text_input(t("intake.city"), value=p.city)
    c1, c2 = st.columns(2)
    email = c1.text_input(t("intake.email"), value=p.email)
    phone = c2.text_input(t("intake.phone"), value=p.phone)
    iban = st.text_input(t("profile.iban"), value=p.iban)
    c1, c2 = st.columns(2)
    capacity = c1.number_input(t("profile.capacity_label"), min_value=0, max_value=partners.MAX_CAPACITY,
                               value=p.weekly_capacity, step=1)
    paused = c2.toggle(t("profile.paused"), value=p.paused, help=t("profile.paused_help"))
    if st.form_submit_button(t("profile.save")):
        act(lambda s: partners.update_own_profile(
            s, actor=actor, street=street, postal_code=postal_code, city=city, email=email, phone=phone, iban=iban,
            weekly_capacity=int(capacity), paused=paused,
        ), t("profile.saved"), notice_key="profile_notice")
