"""Webhooks (admin): the registered webhooks, add one, deactivate, send a test call, the delivery log."""

import streamlit as st

from core import webhooks
from core.i18n import label, t
from core.permissions import Action
from core.timeutil import format_dt
from core.ui.navigation import guard
from core.ui.resources import read_session, settings
from core.ui.widgets import act, show_notice

actor = guard(Action.MANAGE_WEBHOOKS)
st.title(t("webhooks.title"))
st.caption(t("webhooks.intro"))
NOTICE, SECRET = "webhooks_notice", "webhooks_new_secret"

with read_session() as s:
    hooks = webhooks.list_webhooks(s, actor=actor)
    deliveries = webhooks.list_deliveries(s, actor=actor)

show_notice(NOTICE)
secret = st.session_state.pop(SECRET, None)
if secret:
    st.warning(t("webhooks.secret_once"))
    st.code(secret, language=None)


def events_text(events) -> str:
    return ", ".join(webhooks.event_label(e) for e in events)


if hooks:
    st.dataframe(
        [
            {
                t("webhooks.col_url"): h.url, t("webhooks.col_events"): events_text(h.event_types),
                t("webhooks.col_state"): t("webhooks.active") if h.is_active else t("webhooks.inactive"),
                t("webhooks.col_created"): format_dt(h.created_at),
            }
            for h in hooks
        ],
        hide_index=True,
        width="stretch",
    )
else:
    st.info(f"{t('webhooks.none')} {t('empty.webhooks_next')}")


def created(hook, generated: bool) -> str:
    """The success notice; a generated secret is kept for the next run, which shows it once."""
    if generated:
        st.session_state[SECRET] = hook.secret
    return t("webhooks.created")


tab_new, tab_edit = st.tabs([t("webhooks.add"), t("webhooks.manage")])
with tab_new, st.form("add_webhook", clear_on_submit=False):
    url = st.text_input(t("webhooks.url"))
    new_secret = st.text_input(t("webhooks.secret"), type="password")
    events = st.multiselect(t("webhooks.events"), webhooks.EVENT_TYPES, format_func=webhooks.event_label,
                            placeholder=t("field.choose"))
    if st.form_submit_button(t("webhooks.add")):
        act(
            lambda s: webhooks.register_webhook(s, actor=actor, settings=settings(), url=url, secret=new_secret,
                                                event_types=events),
            lambda hook: created(hook, generated=not new_secret.strip()),
            notice_key=NOTICE,
        )

with tab_edit:
    active = {h.id: h for h in hooks if h.is_active}
    hook_id = st.selectbox(t("webhooks.select"), list(active), format_func=lambda i: active[i].url)
    if hook_id is not None:
        c1, c2 = st.columns(2)
        if c1.button(t("webhooks.send_test")):
            act(lambda s: webhooks.send_test(s, actor=actor, webhook_id=hook_id), t("webhooks.test_queued"),
                notice_key=NOTICE)
        if c2.button(t("webhooks.deactivate")):
            act(lambda s: webhooks.deactivate_webhook(s, actor=actor, webhook_id=hook_id), t("webhooks.deactivated"),
                notice_key=NOTICE)

st.subheader(t("webhooks.log"))
if deliveries:
    st.dataframe(
        [
            {
                t("webhooks.col_time"): format_dt(d.created_at), t("webhooks.col_url"): d.url,
                t("webhooks.col_event"): webhooks.event_label(d.event), t("webhooks.col_status"): label(d.status),
                t("webhooks.col_attempts"): d.attempts,
                t("webhooks.col_code"): "" if d.response_code is None else str(d.response_code),
                t("webhooks.col_error"): d.last_error,
                t("webhooks.col_next"): format_dt(d.next_attempt_at) if d.status == "pending" else "",
            }
            for d in deliveries
        ],
        hide_index=True,
        width="stretch",
    )
else:
    st.caption(f"{t('webhooks.log_empty')} {t('empty.webhook_log_next')}")
