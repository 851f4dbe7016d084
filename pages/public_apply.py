"""Partner werden (public): a business applies; captcha, consent, rate limit and checks in core.applications."""

import random

import streamlit as st

from core import applications
from core.enums import PartnerKind
from core.errors import SchadenportalError
from core.i18n import label, t
from core.partners import MAX_CAPACITY
from core.ui import resources
from core.ui.auth import client_ip
from core.ui.navigation import public_page
from core.ui.resources import write_session

actor = public_page()
CAPTCHA_KEY, ERROR_KEY, DONE_KEY = "apply_captcha", "apply_error", "apply_done"
st.title(t("apply.title"))
if st.session_state.get(DONE_KEY):
    st.success(t("apply.thanks"))
    st.stop()
st.write(t("apply.intro"))
if error := st.session_state.pop(ERROR_KEY, None):
    st.error(error)

captcha = st.session_state.setdefault(CAPTCHA_KEY, applications.make_captcha(random.SystemRandom()))
with st.form("partner_application"):
    business_name = st.text_input(t("apply.business_name"), max_chars=200)
    kind = st.selectbox(t("apply.kind"), list(PartnerKind), index=None, format_func=label,
                        placeholder=t("field.choose"))
    street = st.text_input(t("apply.street"), max_chars=200)
    c1, c2 = st.columns([1, 3])
    postal_code = c1.text_input(t("apply.postal_code"), max_chars=5)
    city = c2.text_input(t("apply.city"), max_chars=100)
    c1, c2 = st.columns([3, 1])
    regions = c1.text_input(t("apply.regions"), max_chars=300, placeholder="10, 12, 13", help=t("apply.regions_help"))
    capacity = c2.number_input(t("apply.weekly_capacity"), min_value=1, max_value=MAX_CAPACITY, value=10, step=1)
    contact_name = st.text_input(t("apply.contact_name"), max_chars=200)
    c1, c2 = st.columns(2)
    email = c1.text_input(t("apply.email"), max_chars=254)
    phone = c2.text_input(t("apply.phone"), max_chars=50)
    message = st.text_area(t("apply.message"), max_chars=applications.MESSAGE_MAX)
    consent = st.checkbox(t("apply.consent"))
    answer = st.text_input(captcha.question, max_chars=3, help=t("apply.captcha_help"))
    submitted = st.form_submit_button(t("apply.submit"), type="primary")

if submitted:
    form = applications.ApplicationForm(
        business_name=business_name, kind=kind, street=street, postal_code=postal_code, city=city, regions=regions,
        contact_name=contact_name, email=email, phone=phone, weekly_capacity=int(capacity), consent=consent,
        message=message,
    )
    try:
        with write_session() as s:
            applications.submit_application(s, form=form, captcha_answer=captcha.answer, captcha_given=answer,
                                            ip=client_ip(), settings=resources.settings())
    except SchadenportalError as exc:
        st.session_state[ERROR_KEY] = str(exc)
    else:
        st.session_state[DONE_KEY] = True
    st.session_state[CAPTCHA_KEY] = applications.make_captcha(random.SystemRandom())  # a new one every attempt
    st.rerun()
