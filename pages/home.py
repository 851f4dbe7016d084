"""Start page: what matters now for the logged-in role."""

import streamlit as st

from core import assignment, dashboard, tasks
from core.enums import Role
from core.i18n import label, t
from core.money import format_eur
from core.permissions import Action, can
from core.timeutil import format_dt, now
from core.ui.navigation import guard
from core.ui.resources import read_session
from core.ui.widgets import case_link_column, case_table, case_url, show_notice

actor = guard(Action.VIEW_START)
st.title(t("home.title"))
show_notice("home_notice")


def my_tasks() -> None:
    with read_session() as s:
        open_tasks = tasks.my_tasks(s, actor=actor)
    st.subheader(t("home.my_tasks"))
    if not open_tasks:
        st.info(t("home.no_tasks"))
        return
    at = now()
    st.dataframe(
        [
            {
                t("col.link"): case_url(task.case_number) if task.case_number else None,
                t("home.task_col"): ("🔴 " if task.overdue(at) else "") + task.title
                + (f" ({task.partner})" if task.partner and not task.case_number else ""),
                t("col.due"): format_dt(task.due_at),
            }
            for task in open_tasks
        ],
        hide_index=True,
        column_config=case_link_column(),
    )


def back_office() -> None:
    with read_session() as s:
        overview = dashboard.staff_overview(s, actor=actor)
    st.subheader(t("home.open_by_status"))
    cols = st.columns(len(overview.status_counts) + 2)
    for col, (status, count) in zip(cols, overview.status_counts.items()):
        col.metric(label(status), count)
    cols[-2].metric(t("home.flagged"), overview.flagged)
    cols[-1].metric(t("home.overdue"), overview.overdue)
    st.subheader(t("home.deadlines"))
    case_table(overview.urgent, empty=t("home.no_open_cases"))
    if not overview.urgent and can(actor, Action.CREATE_CASE):
        st.page_link("pages/staff_intake.py", label=t("empty.intake_link"), icon=":material/note_add:")


def manager() -> None:
    with read_session() as s:
        h = dashboard.manager_headlines(s, actor=actor)
    st.subheader(t("home.headlines"))
    c = st.columns(5)
    c[0].metric(t("home.cases_this_month"), h.cases_this_month)
    c[1].metric(t("home.cases_last_month"), h.cases_last_month)
    c[2].metric(t("home.open_cases"), h.open_cases)
    c[3].metric(t("home.paid_this_month"), format_eur(h.paid_this_month_cents))
    median = "–" if h.throughput_median_hours is None else t("home.hours", value=f"{h.throughput_median_hours:.1f}")
    c[4].metric(t("home.throughput_median"), median.replace(".", ","))


def admin() -> None:
    with read_session() as s:
        a = dashboard.admin_overview(s, actor=actor)
    st.subheader(t("home.admin"))
    c = st.columns(3)
    c[0].metric(t("home.users_active"), a.active_users)
    c[1].metric(t("home.sessions_active"), a.active_sessions)
    c[2].metric(t("home.failed_logins"), a.failed_logins_24h)


def partner() -> None:
    st.subheader(t("home.my_orders"))
    if actor.partner_id is None:
        st.warning(t("home.not_linked"))
        return
    with read_session() as s:
        rows = dashboard.partner_orders(s, actor=actor)
        quota = assignment.weekly_quota(s, actor=actor)
    c1, c2 = st.columns(2)
    c1.metric(t("home.quota_own", week=quota.week), quota.own)
    c2.metric(t("home.quota_average", partners=quota.partners), f"{quota.average:.1f}".replace(".", ","))
    case_table(rows, empty=f"{t('home.no_orders')} {t('empty.partner_next')}", show_deadline=False)
    if not rows:
        st.page_link("pages/partner_profile.py", label=t("empty.profile_link"), icon=":material/store:")


def broker() -> None:
    st.subheader(t("home.my_cases"))
    with read_session() as s:
        rows = dashboard.broker_cases(s, actor=actor)
    case_table(rows, empty=f"{t('home.no_cases')} {t('empty.broker_next')}", show_deadline=False)
    if not rows:
        st.page_link("pages/broker_submit.py", label=t("empty.submit_link"), icon=":material/note_add:")


SECTIONS = {
    Role.ADMIN: (admin, manager, back_office),
    Role.MANAGER: (manager,),
    Role.STAFF: (my_tasks, back_office),
    Role.LAWYER: (my_tasks, back_office),
    Role.PARTNER: (partner,),
    Role.BROKER: (broker,),
}
for section in SECTIONS.get(actor.role, ()):
    section()
