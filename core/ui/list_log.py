"""Logging the case lists a user is shown (§10), once per page shown rather than on every rerun."""

from __future__ import annotations

import streamlit as st

from core import board
from core.permissions import Actor
from core.ui.resources import write_session


def log_list_once(key: str, *, actor: Actor, filters: board.BoardFilter, page: board.BoardPage, what: str) -> None:
    """Write the access-log row of this page of cases unless this session logged the very same page last."""
    shown = (filters, tuple(r.number for r in page.rows))
    state_key = f"_list_logged_{key}"
    if not page.rows or st.session_state.get(state_key) == shown:
        return
    with write_session() as s:
        board.log_list_view(s, actor=actor, filters=filters, page=page, what=what)
    st.session_state[state_key] = shown
