"""Small shared widgets."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from core.board import Cursor
from core.dashboard import CaseRow
from core.errors import SchadenportalError
from core.i18n import label, t
from core.timeutil import format_dt
from core.ui.activity import action_name, logged_action
from core.ui.resources import write_session


def act(action: Callable[[Session], object], success: str | Callable[[object], str], *, notice_key: str,
        name: str = "") -> None:
    """Run one user action as one transaction; show the German error, or remember the success message (a
    text, or made from the action's result) and rerun. Logged as one action line (core.ui.activity), named
    `name` or after the service the action calls."""
    try:
        with logged_action(name or action_name(action)), write_session() as s:
            result = action(s)
    except SchadenportalError as exc:
        st.error(str(exc))
    else:
        st.session_state[notice_key] = success(result) if callable(success) else success
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


def page_cursor(key: str, filters: object) -> Cursor | None:
    """Keyset paging state: where the current page starts (None: first page); new filters start over."""
    if st.session_state.get(f"{key}_filter") != filters:
        st.session_state[f"{key}_filter"] = filters
        st.session_state[f"{key}_cursors"] = []
    cursors: list[str] = st.session_state[f"{key}_cursors"]
    try:
        return Cursor.from_token(cursors[-1]) if cursors else None
    except ValueError:
        cursors.clear()
        return None


def pager(key: str, next_cursor: Cursor | None, caption: str = "") -> None:
    """Back / page n / next buttons under a keyset-paged table."""
    cursors: list[str] = st.session_state[f"{key}_cursors"]
    back, position, forward = st.columns([1, 3, 1], vertical_alignment="center")
    back.button(t("board.back"), disabled=not cursors, on_click=cursors.pop, width="stretch", key=f"{key}_back")
    position.caption(" · ".join(p for p in (t("board.page", page=len(cursors) + 1), caption) if p))
    forward.button(
        t("board.next"), disabled=next_cursor is None, on_click=cursors.append,
        args=(next_cursor.to_token() if next_cursor else "",), width="stretch", key=f"{key}_next",
    )


def thousands(value: int, *, more: bool = False) -> str:
    """A count with German thousands dots ("12.345"); "über 1.000" for a lower bound (a capped search count)."""
    text = f"{value:,}".replace(",", ".")
    return t("board.more_than", count=text) if more else text
