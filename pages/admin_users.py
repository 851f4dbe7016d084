"""Benutzerverwaltung (admin): create, deactivate, reset password or TOTP, role and partner link."""

import streamlit as st

from core import users
from core.enums import Role
from core.i18n import label, t
from core.permissions import Action
from core.timeutil import format_dt
from core.ui.navigation import guard
from core.ui.resources import read_session
from core.ui.widgets import act, show_notice

actor = guard(Action.MANAGE_USERS)
st.title(t("users.title"))
ROLES = [r for r in Role if r != Role.CLIENT]

with read_session() as s:
    rows = users.list_users(s, actor=actor)
    partners = dict(users.list_partner_choices(s, actor=actor))
    brokers = dict(users.list_broker_choices(s, actor=actor))

show_notice("users_notice")

st.dataframe(
    [
        {
            t("users.username"): r.username, t("users.display_name"): r.display_name, t("users.email"): r.email,
            t("users.role"): label(r.role), t("users.partner"): r.partner or r.broker,
            t("users.col_status"): t("users.active") if r.is_active else t("users.inactive"),
            t("users.col_totp"): "✓" if r.totp_enabled else "", t("users.col_last_login"): format_dt(r.last_login),
        }
        for r in rows
    ],
    hide_index=True,
    width="stretch",
)


def run(action, success: str) -> None:
    """Run one admin action as one transaction (see core.ui.widgets.act)."""
    act(action, success, notice_key="users_notice")


def link_inputs(role: Role, key: str, partner_id=None, broker_id=None) -> tuple[int | None, int | None]:
    """Partner or broker selection for the roles that need one."""
    if role == Role.PARTNER:
        ids = list(partners)
        idx = ids.index(partner_id) if partner_id in ids else None
        return st.selectbox(t("users.partner"), ids, index=idx, format_func=partners.get, key=f"{key}_p"), None
    if role == Role.BROKER:
        ids = list(brokers)
        idx = ids.index(broker_id) if broker_id in ids else None
        return None, st.selectbox(t("users.broker"), ids, index=idx, format_func=brokers.get, key=f"{key}_b")
    return None, None


tab_new, tab_edit = st.tabs([t("users.create"), t("users.edit")])
with tab_new:
    role = st.selectbox(t("users.role"), ROLES, format_func=label, key="new_role")
    with st.form("create_user", clear_on_submit=False):
        username = st.text_input(t("users.username"))
        display_name = st.text_input(t("users.display_name"))
        email = st.text_input(t("users.email"))
        password = st.text_input(t("users.password"), type="password")
        partner_id, broker_id = link_inputs(role, "new")
        if st.form_submit_button(t("users.create")):
            run(
                lambda s: users.create_user(
                    s, actor=actor, username=username, display_name=display_name, email=email, role=role,
                    password=password, partner_id=partner_id, broker_id=broker_id,
                ),
                t("users.created", username=username.strip().lower()),
            )

with tab_edit:
    by_id = {r.id: r for r in rows}
    user_id = st.selectbox(
        t("users.select"), list(by_id), format_func=lambda i: f"{by_id[i].username} – {by_id[i].display_name}"
    )
    if user_id is not None:
        row = by_id[user_id]
        new_role = st.selectbox(t("users.role"), ROLES, index=ROLES.index(row.role), format_func=label, key="edit_role")
        current_partner = next((k for k, v in partners.items() if v == row.partner), None)
        current_broker = next((k for k, v in brokers.items() if v == row.broker), None)
        p_id, b_id = link_inputs(new_role, "edit", current_partner, current_broker)
        if st.button(t("users.save_role")):
            run(lambda s: users.set_role(s, actor=actor, user_id=user_id, role=new_role, partner_id=p_id,
                                         broker_id=b_id), t("users.done"))
        c1, c2 = st.columns(2)
        with c1:
            if row.is_active and st.button(t("users.deactivate")):
                run(lambda s: users.set_active(s, actor=actor, user_id=user_id, active=False), t("users.done"))
            if not row.is_active and st.button(t("users.activate")):
                run(lambda s: users.set_active(s, actor=actor, user_id=user_id, active=True), t("users.done"))
            if st.button(t("users.reset_totp")):
                run(lambda s: users.reset_totp(s, actor=actor, user_id=user_id), t("users.done"))
        with c2:
            with st.form("reset_password", clear_on_submit=True):
                new_password = st.text_input(t("account.new_password"), type="password")
                if st.form_submit_button(t("users.reset_password")):
                    run(lambda s: users.reset_password(s, actor=actor, user_id=user_id, new_password=new_password),
                        t("users.done"))
