"""Betrieb (admin): health checks, worker heartbeats, outbox backlog, failed deliveries, last purge, DB size."""

import pandas as pd
import streamlit as st

from core.health import FAIL, OK, ops_overview
from core.i18n import t
from core.permissions import Action
from core.timeutil import format_dt
from core.ui.navigation import guard
from core.ui.resources import engine

actor = guard(Action.VIEW_OPS)
st.title(t("ops.title"))
st.caption(t("ops.intro"))
st.button(t("ops.refresh"), icon=":material/refresh:", key="ops_refresh")

overview = ops_overview(engine(), actor=actor)
report = overview.health
(st.success if report.healthy else st.error)(t("ops.overall_ok" if report.healthy else "ops.overall_fail"))
ICONS = {OK: ":material/check_circle:", FAIL: ":material/error:"}
for check in report.checks:
    line = f"**{t('ops.check.' + check.name)}**: {check.detail}"
    if check.status == OK:
        st.markdown(f"{ICONS[OK]} {line}")
    elif check.status == FAIL:
        st.error(line, icon=ICONS[FAIL])
    else:
        st.warning(line, icon=":material/warning:")

st.subheader(t("ops.heartbeats_head"))
if not overview.heartbeats:
    st.info(t("ops.heartbeats_none"))
else:
    st.caption(t("ops.stale_hint", limit=overview.thresholds.worker_s))
    frame = pd.DataFrame([
        {
            t("ops.col_state"): t(f"ops.state_{h.state}"), t("ops.col_worker"): h.worker_id,
            t("ops.col_host"): h.host, t("ops.col_pid"): h.pid, t("ops.col_started"): format_dt(h.started_at),
            t("ops.col_beat"): format_dt(h.last_beat_at), t("ops.col_age"): h.age_s,
            t("ops.col_rounds"): h.rounds, t("ops.col_result"): h.last_result,
            t("ops.col_counts"): ", ".join(f"{k} {v}" for k, v in h.last_counts.items() if v) or "–",
        }
        for h in overview.heartbeats
    ])
    live = t("ops.state_live")
    st.dataframe(
        frame.style.apply(lambda row: ["" if row.iloc[0] == live else "background-color: #fdd"] * len(row), axis=1),
        hide_index=True, width="stretch",
    )

checks = {c.name: c.data for c in report.checks}
outbox, failed = checks.get("outbox", {}), checks.get("failed_deliveries", {})
st.subheader(t("ops.backlog_head"))
c1, c2, c3 = st.columns(3)
c1.metric(t("ops.metric_pending"), outbox.get("pending", "–"))
c2.metric(t("ops.metric_due"), outbox.get("due", "–"))
oldest = outbox.get("oldest_pending_age_s")
c3.metric(t("ops.metric_oldest"), "–" if oldest is None else round(oldest / 60))

st.subheader(t("ops.failed_head"))
c1, c2 = st.columns(2)
c1.metric(t("ops.metric_failed_mail"), failed.get("mails", "–"))
c2.metric(t("ops.metric_failed_webhooks"), failed.get("webhooks", "–"))
c1.page_link("pages/admin_outbox.py", label=t("ops.to_outbox"), icon=":material/outbox:")
c2.page_link("pages/admin_webhooks.py", label=t("ops.to_webhooks"), icon=":material/webhook:")

st.subheader(t("ops.retention_head"))
purge = overview.last_purge
if purge is None:
    st.info(t("ops.retention_none"))
else:
    state = (t("ops.retention_finished", finished=format_dt(purge.finished_at)) if purge.finished_at
             else t("ops.retention_unfinished"))
    st.write(t("ops.retention_last", started=format_dt(purge.started_at), state=state, changed=purge.changed))

st.subheader(t("ops.size_head"))
size = overview.database_bytes
st.write(t("ops.size", size="–" if size is None else f"{size / 1_048_576:.1f} MB".replace(".", ","),
           backend=overview.backend))
