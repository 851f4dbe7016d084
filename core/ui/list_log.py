"""Logging the lists a user is shown (§10), once per list shown rather than on every rerun."""

from __future__ import annotations

from collections.abc import Callable, Hashable

import streamlit as st
from sqlalchemy.orm import Session

from core import board, inbound_mail
from core.permissions import Actor
from core.ui.resources import write_session


def log_once(key: str, shown: Hashable, log: Callable[[Session], None]) -> None:
    """Run `log` in its own transaction unless this session logged the very same `shown` under `key` last."""
    state_key = f"_list_logged_{key}"
    if st.session_state.get(state_key) == shown:
        return
    with write_session() as s:
        log(s)
    st.session_state[state_key] = shown


def log_list_once(key: str, *, actor: Actor, filters: board.BoardFilter, page: board.BoardPage, what: str) -> None:
    """The access-log row of this page of cases (board, partner's orders), once per page shown."""
    if page.rows:
        log_once(key, (filters, tuple(r.number for r in page.rows)),
                 lambda s: board.log_list_view(s, actor=actor, filters=filters, page=page, what=what))


def log_mail_lists_once(*, actor: Actor, held: list, filed: list) -> None:
    """The Posteingang's access-log rows (held and recently filed mails), once per set of mails shown."""
    if held or filed:
        log_once("inbound_mail", (tuple(m.id for m in held), tuple(m.id for m in filed)),
                 lambda s: inbound_mail.log_mail_lists(s, actor=actor, held=held, filed=filed))
