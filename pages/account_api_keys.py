"""API-Schlüssel: create a key for a broker system (shown once), see its last use, revoke; admins: every key."""

import streamlit as st

from core import api_keys
from core.enums import Role
from core.errors import SchadenportalError
from core.i18n import label, t
from core.permissions import Action, can
from core.timeutil import format_dt
from core.ui.navigation import guard
from core.ui.resources import read_session, settings, write_session
from core.ui.widgets import act, show_notice

actor = guard(Action.USE_API)
NOTICE = "apikeys_notice"
st.title(t("apikeys.title"))
st.caption(t("apikeys.intro", port=settings().api_port))
show_notice(NOTICE)

everyone = can(actor, Action.MANAGE_USERS)
if everyone:  # an admin may set a key up for a broker's system (the broker's rights, not the admin's)
    with read_session() as s:
        owners = dict(api_keys.key_owners(s, actor=actor))
with st.form("apikeys_create", clear_on_submit=True):
    owner_id = (st.selectbox(t("apikeys.owner"), list(owners), format_func=owners.get, help=t("apikeys.owner_help"))
                if everyone else actor.user_id)
    name = st.text_input(t("apikeys.name"), max_chars=api_keys.NAME_MAX, placeholder=t("apikeys.name_placeholder"))
    create = st.form_submit_button(t("apikeys.create"), type="primary")
if create:
    try:
        with write_session() as s:
            plaintext, created = api_keys.create_api_key(s, actor=actor, name=name, owner_id=owner_id)
    except SchadenportalError as exc:
        st.error(str(exc))
    else:  # shown this once: it is stored only as a hash
        st.success(t("apikeys.created_for", name=created.name, owner=created.owner) if created.owner != actor.username
                   else t("apikeys.created", name=created.name))
        st.code(plaintext, language=None)
        st.warning(t("apikeys.shown_once"))

with write_session() as s:
    keys = api_keys.list_api_keys(s, actor=actor, include_all=everyone)
st.subheader(t("apikeys.all") if everyone else t("apikeys.own"))
if not keys:
    st.info(t("apikeys.empty"))
for key in keys:
    left, right = st.columns([5, 1])
    owner = f"{key.owner} ({label(Role(key.owner_role))}) · " if everyone else ""
    state = t("apikeys.revoked_at", at=format_dt(key.revoked_at)) if key.revoked_at else t("apikeys.active")
    used = format_dt(key.last_used_at) if key.last_used_at else t("apikeys.never_used")
    left.markdown(f"**{key.name}** · `{key.public_id}` · {owner}{state}")
    left.caption(t("apikeys.dates", created=format_dt(key.created_at), used=used))
    if key.active and right.button(t("apikeys.revoke"), key=f"apikeys_revoke_{key.id}"):
        act(lambda s, key_id=key.id: api_keys.revoke_api_key(s, actor=actor, key_id=key_id),
            t("apikeys.revoked", name=key.name), notice_key=NOTICE)
