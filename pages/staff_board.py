"""Case board (Fallübersicht): every case by filter, newest first, one page at a time; CSV/XLSX export."""

import pandas as pd
import streamlit as st

from core import board
from core.enums import CaseStatus, DamageType
from core.i18n import label, t
from core.lifecycle import DeadlineState
from core.permissions import Action, Actor, can
from core.timeutil import format_dt, now, to_berlin
from core.ui.navigation import guard
from core.ui.resources import read_session, write_session
from core.ui.widgets import case_link_column, case_url, page_cursor, pager
from reports.tabular import to_csv, to_xlsx

actor = guard(Action.LIST_CASES)
st.title(t("board.title"))

PAGING_KEY = "board"
LIGHTS = {
    DeadlineState.NONE: t("board.light_none"),
    DeadlineState.OK: t("board.light_ok"),
    DeadlineState.FLAGGED: t("board.light_flagged"),
    DeadlineState.OVERDUE: t("board.light_overdue"),
}
DEADLINES = {
    None: t("board.deadline_any"), "flagged": t("board.deadline_flagged"), "overdue": t("board.deadline_overdue"),
}


def or_all(names):
    return lambda value: t("board.all") if value is None else names(value)


def thousands(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def export(render, *, who: Actor, filters: board.BoardFilter):
    """The file, built (and logged) only when the download button is clicked."""

    def build() -> bytes:
        with write_session() as s:
            rows, _ = board.export_board(s, actor=who, filters=filters)
        return render(rows)

    return build


with read_session() as s:
    choices = board.board_choices(s, actor=actor)
insurers, partners, clerks = dict(choices.insurers), dict(choices.partners), dict(choices.clerks)

with st.form("board_filters", border=False):
    top = st.columns([3, 2, 2, 2, 2])
    statuses = top[0].multiselect(t("board.status"), list(CaseStatus), format_func=label, placeholder=t("board.all"))
    damage_type = top[1].selectbox(t("board.damage_type"), [None, *DamageType], format_func=or_all(label))
    insurer_id = top[2].selectbox(t("board.insurer"), [None, *insurers], format_func=or_all(insurers.get))
    partner_id = top[3].selectbox(t("board.partner"), [None, *partners], format_func=or_all(partners.get))
    clerk_id = top[4].selectbox(t("board.clerk"), [None, *clerks], format_func=or_all(clerks.get))
    bottom = st.columns([3, 4, 2], vertical_alignment="bottom")
    text = bottom[0].text_input(t("board.search"), help=t("board.search_help"), max_chars=board.MAX_SEARCH_LENGTH)
    deadline = bottom[1].radio(t("board.deadline"), list(DEADLINES), format_func=DEADLINES.get, horizontal=True)
    bottom[2].form_submit_button(t("board.apply"), type="primary")

filters = board.BoardFilter(
    statuses=tuple(statuses), damage_type=damage_type, insurer_id=insurer_id, partner_id=partner_id,
    clerk_id=clerk_id, deadline=deadline, text=text,
)
after = page_cursor(PAGING_KEY, filters)

with read_session() as s:
    counts = board.status_counts(s, actor=actor, filters=filters)
    page = board.list_board(s, actor=actor, filters=filters, after=after)

for column, (status, count) in zip(st.columns(len(counts)), counts.items()):
    column.metric(label(status), thousands(count))
total = sum(count for status, count in counts.items() if not filters.statuses or status in filters.statuses)

if not page.rows:
    st.info(t("board.empty"))
    st.stop()

rows = page.rows
st.dataframe(
    pd.DataFrame(
        {
            t("col.link"): [case_url(r.number) for r in rows],
            t("col.deadline"): [LIGHTS[r.deadline] for r in rows],
            t("col.status"): [label(r.status) for r in rows],
            t("col.received"): [format_dt(r.received_at) for r in rows],
            t("col.damage_type"): [label(r.damage_type) for r in rows],
            t("col.client"): [r.client for r in rows],
            t("col.plate"): [r.plate for r in rows],
            t("col.insurer"): [r.insurer for r in rows],
            t("field.partner"): [r.partner for r in rows],
            t("field.clerk"): [r.clerk for r in rows],
        }
    ),
    hide_index=True,
    column_config=case_link_column(),
)

pager(PAGING_KEY, page.next_cursor, t("board.total", count=thousands(total)))

if can(actor, Action.EXPORT_DATA):
    st.subheader(t("board.export"))
    if total > board.EXPORT_LIMIT:
        st.warning(t("board.export_truncated", count=thousands(total), limit=thousands(board.EXPORT_LIMIT)))
    else:
        st.caption(t("board.export_hint", limit=thousands(board.EXPORT_LIMIT)))
    name = t("board.file_name", date=to_berlin(now()).strftime("%Y-%m-%d"))
    csv_col, xlsx_col, _ = st.columns([1, 1, 2])
    csv_col.download_button(
        t("board.export_csv"), data=export(to_csv, who=actor, filters=filters), file_name=f"{name}.csv",
        mime="text/csv", on_click="ignore",
    )
    xlsx_col.download_button(
        t("board.export_xlsx"),
        data=export(lambda rows: to_xlsx(rows, sheet=t("board.sheet")), who=actor, filters=filters),
        file_name=f"{name}.xlsx", on_click="ignore",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
