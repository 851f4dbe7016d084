"""Manipulationsprüfung (admin): recompute every case's event chain; the first broken event of each case."""

import streamlit as st

from core import chain_check
from core.errors import SchadenportalError
from core.i18n import t
from core.permissions import Action
from core.ui.navigation import guard
from core.ui.resources import engine

actor = guard(Action.VIEW_AUDIT_LOG)
RESULT_KEY = "verify_result"

st.title(t("verify.title"))
st.caption(t("verify.intro"))
number = st.text_input(t("verify.case"), key="verify_case").strip()

if st.button(t("verify.start"), type="primary", key="verify_start"):
    bar = st.progress(0.0, text=t("verify.progress", done=0, total="…"))

    def progress(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=t("verify.progress", done=done, total=total))

    try:
        report = chain_check.verify_chains(engine(), actor=actor, case_number=number or None, progress=progress)
    except SchadenportalError as exc:
        bar.empty()
        st.session_state.pop(RESULT_KEY, None)
        st.error(str(exc))
    else:
        st.session_state[RESULT_KEY] = report

report = st.session_state.get(RESULT_KEY)
if report is not None:
    lines = chain_check.report_lines(report)
    st.caption(lines[0])
    if report.ok:
        st.success(lines[-1])
    else:
        st.error(lines[-1])
        st.dataframe(
            [
                {t("verify.col_case"): item.case_number,
                 t("verify.col_seq"): str(item.seq) if item.seq is not None else t("verify.head"),
                 t("verify.col_events"): item.events}
                for item in report.broken
            ],
            hide_index=True, width="stretch",
        )
        if report.broken_count > len(report.broken):
            st.caption(lines[-2])
