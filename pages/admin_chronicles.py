"""Fallchroniken (admin): choose cases by status and intake date or by pasted numbers, then one ZIP of PDFs."""

from datetime import timedelta

import streamlit as st

from core import chronicle
from core.enums import CaseStatus
from core.errors import SchadenportalError
from core.i18n import label, t
from core.permissions import Action
from core.timeutil import now, to_berlin
from core.ui.navigation import guard
from core.ui.resources import engine, read_session

actor = guard(Action.VIEW_AUDIT_LOG)
RESULT_KEY = "chron_zip"  # (the numbers it was built for, ZIP bytes, file name, number of PDFs)
MODES = ("filter", "list")

st.title(t("chron.page_title"))
st.caption(t("chron.intro"))
mode = st.radio(t("chron.mode"), MODES, format_func=lambda m: t(f"chron.mode_{m}"), horizontal=True,
                key="chron_mode")
numbers: list[str] = []
too_many = False
if mode == "filter":
    statuses = st.multiselect(t("chron.statuses"), list(CaseStatus), format_func=label, key="chron_statuses",
                              placeholder=t("board.all"))
    today = to_berlin(now()).date()
    c1, c2 = st.columns(2)
    start = c1.date_input(t("chron.received_from"), value=today - timedelta(days=30), format="DD.MM.YYYY",
                          key="chron_from")
    end = c2.date_input(t("chron.received_to"), value=today, format="DD.MM.YYYY", key="chron_to")
    try:
        with read_session() as s:
            selection = chronicle.select_cases(s, actor=actor, statuses=tuple(statuses), received_from=start,
                                               received_to=end)
    except SchadenportalError as exc:
        st.error(str(exc))
    else:
        numbers = selection.numbers
        too_many = selection.total > chronicle.MAX_BATCH
        st.info(t("chron.selected", n=selection.total))
        if too_many:
            st.warning(t("chron.too_many", max=chronicle.MAX_BATCH))
else:
    numbers = chronicle.parse_case_numbers(st.text_area(t("chron.numbers"), key="chron_numbers"))
    st.caption(t("chron.selected", n=len(numbers)))

if st.button(t("chron.build"), type="primary", disabled=not numbers or too_many, key="chron_build"):
    bar = st.progress(0.0, text=t("chron.progress", done=0, total=len(numbers)))
    built = {"n": 0}

    def progress(done: int, total: int) -> None:
        built["n"] = done
        bar.progress(done / total, text=t("chron.progress", done=done, total=total))

    try:
        data = chronicle.chronicles_zip(engine(), actor=actor, numbers=numbers, progress=progress)
    except SchadenportalError as exc:  # unknown numbers, too many: nothing built, nothing logged
        bar.empty()
        st.error(str(exc))
        st.session_state.pop(RESULT_KEY, None)
    else:
        name = f"Fallchroniken-{to_berlin(now()).strftime('%Y%m%d-%H%M')}.zip"
        st.session_state[RESULT_KEY] = (tuple(numbers), data, name, built["n"])

result = st.session_state.get(RESULT_KEY)
if result is not None and result[0] == tuple(numbers):  # a ZIP belongs to the selection it was built for
    _, data, name, count = result
    st.success(t("chron.built", n=count))
    st.download_button(t("chron.zip_download"), data=data, file_name=name, mime="application/zip",
                       on_click="ignore", key="chron_download")
