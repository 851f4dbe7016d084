"""Zugriffsprotokoll (admin): the access log by period, user, action, object; newest first, paged; CSV/XLSX."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from core import access_log
from core.errors import SchadenportalError
from core.i18n import t
from core.permissions import Action, Actor
from core.timeutil import now, to_berlin
from core.ui.navigation import guard
from core.ui.resources import write_session
from core.ui.widgets import page_cursor, pager
from reports.tabular import to_csv, to_xlsx

actor = guard(Action.VIEW_AUDIT_LOG)
PAGING_KEY = "alog"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

st.title(t("alog.title"))
st.caption(t("alog.intro"))


def export(render, *, who: Actor, filters: access_log.AccessLogFilter):
    """The file, built (and logged) only when its download button is clicked."""

    def build() -> bytes:
        with write_session() as s:
            rows, _ = access_log.export_access_log(s, actor=who, filters=filters)
        return render(rows)

    return build


def or_all(name):
    return lambda value: t("alog.all") if value == "" else name(value)


today = to_berlin(now()).date()
c1, c2, c3 = st.columns(3)
date_from = c1.date_input(t("alog.date_from"), value=today - timedelta(days=7), format="DD.MM.YYYY", key="alog_from")
date_to = c2.date_input(t("alog.date_to"), value=today, format="DD.MM.YYYY", key="alog_to")
username = c3.text_input(t("alog.username"), key="alog_user")
c4, c5, c6 = st.columns(3)
action = c4.selectbox(t("alog.action"), ["", *access_log.ACTIONS], format_func=or_all(access_log.action_label),
                      key="alog_action")
object_type = c5.selectbox(t("alog.object_type"), ["", *access_log.OBJECT_TYPES],
                           format_func=or_all(access_log.object_label), key="alog_type")
object_ref = c6.text_input(t("alog.object_ref"), help=t("alog.object_ref_help"), key="alog_ref")

try:
    filters = access_log.AccessLogFilter(date_from=date_from, date_to=date_to, username=username, action=action,
                                         object_type=object_type, object_ref=object_ref)
except SchadenportalError as exc:
    st.error(str(exc))
    st.stop()

after = page_cursor(PAGING_KEY, filters)
with write_session() as s:  # reading the log is itself logged
    page = access_log.list_access_log(s, actor=actor, filters=filters, after=after)

if not page.rows:
    st.info(t("alog.empty"))
else:
    st.dataframe(
        pd.DataFrame(
            {
                t("alog.col_at"): [access_log.format_seconds(r.at) for r in page.rows],
                t("alog.col_user"): [r.username for r in page.rows],
                t("alog.col_role"): [access_log.role_text(r.role) for r in page.rows],
                t("alog.col_action"): [access_log.action_label(r.action) for r in page.rows],
                t("alog.col_type"): [access_log.object_label(r.object_type) for r in page.rows],
                t("alog.col_ref"): [r.object_ref for r in page.rows],
                t("alog.col_ip"): [r.ip for r in page.rows],
                t("alog.col_detail"): [r.detail for r in page.rows],
            }
        ),
        hide_index=True,
        width="stretch",
    )
pager(PAGING_KEY, page.next_cursor)

st.subheader(t("alog.export"))
st.caption(t("alog.export_hint", limit=f"{access_log.EXPORT_LIMIT:,}".replace(",", ".")))
name = t("alog.file_name", date=today.strftime("%Y-%m-%d"))
csv_col, xlsx_col, _ = st.columns([1, 1, 2])
csv_col.download_button(t("alog.export_csv"), data=export(to_csv, who=actor, filters=filters),
                        file_name=f"{name}.csv", mime="text/csv", on_click="ignore", key="alog_csv")
xlsx_col.download_button(t("alog.export_xlsx"),
                         data=export(lambda rows: to_xlsx(rows, sheet=t("alog.sheet")), who=actor, filters=filters),
                         file_name=f"{name}.xlsx", mime=XLSX_MIME, on_click="ignore", key="alog_xlsx")
