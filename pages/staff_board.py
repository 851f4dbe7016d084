"""Case board (Fallübersicht): every case by filter, newest first, one page at a time; CSV/XLSX export."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from core import board, board_address
from core.enums import CaseStatus, DamageType, PartnerKind
from core.i18n import label, t
from core.lifecycle import DeadlineState
from core.permissions import Action, Actor, can
from core.timeutil import format_dt, now, to_berlin
from core.ui.list_log import log_list_once
from core.ui.navigation import guard
from core.ui.resources import read_session, write_session
from core.ui.widgets import case_link_column, case_url, page_cursor, pager, thousands
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
REGIONS = [str(digit) for digit in range(10)]

# the first filters come from the address, e.g. /board?insurer=3&from=2026-11-02&to=2026-11-09 (the KPI dashboard
# links here); an unknown id or a bad value is named and left out
start, ignored = board_address.filter_from_query(st.query_params.to_dict())
for name, known, field in (("insurer", insurers, "insurer_id"), ("partner", partners, "partner_id"),
                           ("clerk", clerks, "clerk_id")):
    if getattr(start, field) is not None and getattr(start, field) not in known:
        ignored.append(name)
if ignored:
    st.warning(t("board.url_ignored", names=", ".join(ignored)))


def pick(options: list, value) -> int:
    """The selectbox index of the address's value (0, "Alle", when it has none or an unknown one)."""
    return options.index(value) if value in options else 0


with st.form("board_filters", border=False):
    top = st.columns([3, 2, 2, 2, 2])
    statuses = top[0].multiselect(t("board.status"), list(CaseStatus), default=list(start.statuses),
                                  format_func=label, placeholder=t("board.all"))
    options = [None, *DamageType]
    damage_type = top[1].selectbox(t("board.damage_type"), options, index=pick(options, start.damage_type),
                                   format_func=or_all(label))
    options = [None, *insurers]
    insurer_id = top[2].selectbox(t("board.insurer"), options, index=pick(options, start.insurer_id),
                                  format_func=or_all(insurers.get))
    options = [None, *partners]
    partner_id = top[3].selectbox(t("board.partner"), options, index=pick(options, start.partner_id),
                                  format_func=or_all(partners.get))
    options = [None, *clerks]
    clerk_id = top[4].selectbox(t("board.clerk"), options, index=pick(options, start.clerk_id),
                                format_func=or_all(clerks.get))
    middle = st.columns([2, 2, 2, 2])
    received_from = middle[0].date_input(t("board.received_from"), value=start.received_from, format="DD.MM.YYYY")
    last_day = middle[1].date_input(
        t("board.received_to"), format="DD.MM.YYYY",
        value=start.received_to - timedelta(days=1) if start.received_to else None,
    )
    options = [None, *PartnerKind]
    partner_kind = middle[2].selectbox(t("board.partner_kind"), options, index=pick(options, start.partner_kind),
                                       format_func=or_all(label))
    options = [None, *REGIONS]
    region = middle[3].selectbox(t("board.region"), options, index=pick(options, start.region),
                                 format_func=or_all(lambda digit: t("board.region_value", digit=digit)))
    bottom = st.columns([3, 4, 2], vertical_alignment="bottom")
    text = bottom[0].text_input(t("board.search"), help=t("board.search_help"), max_chars=board.MAX_SEARCH_LENGTH)
    options = list(DEADLINES)
    deadline = bottom[1].radio(t("board.deadline"), options, index=pick(options, start.deadline),
                               format_func=DEADLINES.get, horizontal=True)
    bottom[2].form_submit_button(t("board.apply"), type="primary")

received_to = last_day + timedelta(days=1) if last_day else None
if received_from and received_to and received_to <= received_from:
    st.error(t("board.period_order"))
    st.stop()

filters = board.BoardFilter(
    statuses=tuple(statuses), damage_type=damage_type, insurer_id=insurer_id, partner_id=partner_id,
    clerk_id=clerk_id, deadline=deadline, text=text, received_from=received_from, received_to=received_to,
    region=region, partner_kind=partner_kind,
)
after = page_cursor(PAGING_KEY, filters)

with read_session() as s:
    counts = board.status_counts(s, actor=actor, filters=filters)
    page = board.list_board(s, actor=actor, filters=filters, after=after)
log_list_once(PAGING_KEY, actor=actor, filters=filters, page=page, what="board")

for column, (status, count) in zip(st.columns(len(counts)), counts.items()):
    column.metric(label(status), thousands(count, more=status in counts.capped))
total, more = counts.total(filters.statuses)

if not page.rows:
    if filters != board.BoardFilter():
        st.info(f"{t('board.empty')} {t('empty.board_next')}")
    elif can(actor, Action.CREATE_CASE):
        st.info(t("empty.board_none"))
        st.page_link("pages/staff_intake.py", label=t("empty.intake_link"), icon=":material/note_add:")
    else:
        st.info(t("empty.board_none_read"))
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

pager(PAGING_KEY, page.next_cursor, t("board.total", count=thousands(total, more=more)))

if can(actor, Action.EXPORT_DATA):
    st.subheader(t("board.export"))
    if total > board.EXPORT_LIMIT:
        st.warning(t("board.export_truncated", count=thousands(total, more=more), limit=thousands(board.EXPORT_LIMIT)))
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
