"""Partnerbetriebe (admin): decide applications; list businesses, edit their terms, deactivate or reactivate."""

import streamlit as st

from core import applications, partner_admin
from core.enums import ApplicationStatus
from core.i18n import label, t
from core.partners import MAX_CAPACITY
from core.permissions import Action
from core.timeutil import format_date, format_dt
from core.ui import resources
from core.ui.navigation import guard
from core.ui.resources import read_session
from core.ui.widgets import act, show_notice

actor = guard(Action.MANAGE_PARTNERS)
NOTICE = "partners_notice"
st.title(t("padmin.title"))
show_notice(NOTICE)

with read_session() as s:
    apps = applications.list_applications(s, actor=actor)
    partners = partner_admin.list_partners(s, actor=actor)
pending = [a for a in apps if a.status == ApplicationStatus.PENDING]
decided = [a for a in apps if a.status != ApplicationStatus.PENDING]


def application_facts(a: applications.ApplicationRow) -> list[dict]:
    """Everything the applicant entered, as text (never as markdown: it comes from the public form)."""
    facts = [
        ("apply.business_name", a.business_name), ("apply.kind", label(a.kind)),
        ("apply.street", a.street), ("apply.city", f"{a.postal_code} {a.city}"), ("apply.regions", a.regions),
        ("apply.weekly_capacity", str(a.weekly_capacity)), ("apply.contact_name", a.contact_name),
        ("apply.email", a.email), ("apply.phone", a.phone), ("apply.message", a.message),
        ("padmin.received", format_dt(a.created_at)),
    ]
    return [{t("case.fact"): t(key), t("case.value"): value} for key, value in facts]


def partner_status(p: partner_admin.PartnerRow) -> str:
    if not p.active:
        return t("padmin.inactive")
    return t("padmin.paused") if p.paused else t("padmin.active")


tab_apps, tab_partners = st.tabs([t("padmin.tab_applications"), t("padmin.tab_partners")])
with tab_apps:
    if not pending:
        st.info(f"{t('padmin.no_pending')} {t('empty.applications_next')}")
    else:
        by_id = {a.id: a for a in pending}
        app_id = st.selectbox(t("padmin.select_application"), list(by_id),
                              format_func=lambda i: f"{by_id[i].business_name} ({format_dt(by_id[i].created_at)})")
        st.dataframe(application_facts(by_id[app_id]), hide_index=True, width="stretch")
        c1, c2 = st.columns(2)
        with c1.form("approve_application"):
            username = st.text_input(t("padmin.username"), help=t("padmin.username_help"))
            if st.form_submit_button(t("padmin.approve"), type="primary"):
                act(lambda s: applications.approve_application(
                    s, actor=actor, settings=resources.settings(), application_id=app_id, username=username or None,
                ), t("padmin.approved"), notice_key=NOTICE)
        with c2.form("reject_application"):
            reason = st.text_area(t("padmin.reject_reason"), max_chars=500)
            if st.form_submit_button(t("padmin.reject")):
                act(lambda s: applications.reject_application(s, actor=actor, application_id=app_id, reason=reason),
                    t("padmin.rejected"), notice_key=NOTICE)
    if decided:
        st.subheader(t("padmin.decided"))
        st.dataframe([
            {t("padmin.received"): format_dt(a.created_at), t("apply.business_name"): a.business_name,
             t("apply.kind"): label(a.kind), t("padmin.status"): label(a.status),
             t("padmin.decided_at"): format_dt(a.decided_at), t("padmin.decided_by"): a.decided_by,
             t("padmin.reject_reason"): a.reject_reason}
            for a in decided
        ], hide_index=True, width="stretch")

with tab_partners:
    if not partners:
        st.info(t("empty.partners"))
    st.dataframe([
        {t("apply.business_name"): p.name, t("apply.kind"): label(p.kind), t("apply.regions"): p.regions,
         t("apply.city"): p.city, t("apply.email"): p.email,
         t("padmin.status"): partner_status(p),
         t("padmin.capacity"): p.capacity, t("padmin.commission"): f"{p.commission_percent:.2f} %".replace(".", ","),
         t("padmin.trial_until"): format_date(p.trial_until), t("padmin.week_orders"): p.orders_this_week,
         t("padmin.open_orders"): p.open_orders}
        for p in partners
    ], hide_index=True, width="stretch")
    by_pid = {p.id: p for p in partners}
    partner_id = st.selectbox(t("padmin.select_partner"), list(by_pid), index=None, placeholder=t("field.choose"),
                              format_func=lambda i: f"{by_pid[i].name} ({label(by_pid[i].kind)})")
    if partner_id is not None:
        row = by_pid[partner_id]
        with st.form("partner_terms"):
            c1, c2 = st.columns(2)
            percent = c1.number_input(t("padmin.commission"), min_value=0.0, max_value=100.0, step=0.5,
                                      value=float(row.commission_percent), format="%.2f")
            capacity = c2.number_input(t("padmin.capacity"), min_value=0, max_value=MAX_CAPACITY, step=1,
                                       value=row.capacity)
            if st.form_submit_button(t("padmin.save_terms")):
                act(lambda s: partner_admin.update_partner_terms(
                    s, actor=actor, partner_id=partner_id, commission_bp=round(percent * 100),
                    weekly_capacity=int(capacity),
                ), t("padmin.terms_saved"), notice_key=NOTICE)
        if row.active:
            with st.form("deactivate_partner"):
                st.caption(t("padmin.deactivate_hint"))
                why = st.text_input(t("padmin.deactivate_reason"), max_chars=400)
                if st.form_submit_button(t("padmin.deactivate")):
                    act(lambda s: partner_admin.deactivate_partner(s, actor=actor, partner_id=partner_id, reason=why),
                        t("padmin.deactivated"), notice_key=NOTICE)
        elif st.button(t("padmin.reactivate")):
            act(lambda s: partner_admin.reactivate_partner(s, actor=actor, partner_id=partner_id),
                t("padmin.reactivated"), notice_key=NOTICE)
