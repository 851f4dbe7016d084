"""Small shared widgets."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from core.dashboard import CaseRow
from core.errors import SchadenportalError
from core.ui.resources import write_session
from core.i18n import label, t
from core.timeutil import format_dt


def act(action: Callable[[Session], object], success: str, *, notice_key: str) -> None:
    """Run one user action as one transaction; show the German error, or remember success and rerun."""
    try:
        with write_session() as s:
            action(s)
    except SchadenportalError as exc:
        st.error(str(exc))
    else:
        st.session_state[notice_key] = success
        st.rerun()


def show_notice(notice_key: str) -> None:
    """Show (once) the success message an action left behind."""
    notice = st.session_state.pop(notice_key, None)
    if notice:
        st.success(notice)


def case_url(number: str) -> str:
    """The deep link of a case (§6)."""
    return f"/case?nr={quote(number)}"


def case_link_column() -> dict:
    """column_config that shows the `col.link` column (case URLs) as clickable case numbers."""
    return {t("col.link"): st.column_config.LinkColumn(t("col.number"), display_text=r"nr=(.*)$")}


def case_table(rows: list[CaseRow], *, empty: str, show_deadline: bool = True) -> None:
    """A table of cases (the number links to the case page), or the `empty` hint when there are none."""
    if not rows:
        st.info(empty)
        return
    frame = pd.DataFrame(
        {
            t("col.link"): [case_url(r.number) for r in rows],
            t("col.status"): [label(r.status) for r in rows],
            t("col.received"): [format_dt(r.received_at) for r in rows],
            **({t("col.deadline"): [label(r.deadline) for r in rows]} if show_deadline else {}),
            t("col.damage_type"): [label(r.damage_type) for r in rows],
            t("col.client"): [r.client for r in rows],
            t("col.city"): [r.city for r in rows],
            t("col.plate"): [r.plate for r in rows],
            t("col.insurer"): [r.insurer for r in rows],
        }
    )
    st.dataframe(
        frame,
        hide_index=True,
        column_config=case_link_column(),
    )
