"""The page registry: which pages exist, which action opens each, and the guard every page runs first."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.audit import log_access
from core.i18n import t
from core.permissions import Action, Actor, can
from core.ui.resources import write_session

ACTOR_KEY = "sp_actor"


@dataclass(frozen=True)
class PageSpec:
    path: str
    title_key: str
    icon: str
    url_path: str
    action: Action
    section: str = ""


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/home.py", "nav.home", ":material/home:", "start", Action.VIEW_START),
    PageSpec("pages/staff_board.py", "nav.board", ":material/table_view:", "board", Action.LIST_CASES),
    PageSpec("pages/staff_intake.py", "nav.intake", ":material/note_add:", "intake", Action.CREATE_CASE),
    PageSpec("pages/broker_submit.py", "nav.broker_submit", ":material/note_add:", "submit", Action.SUBMIT_CASE),
    PageSpec("pages/case_view.py", "nav.case", ":material/folder_open:", "case", Action.VIEW_CASE),
    PageSpec("pages/partner_profile.py", "nav.profile", ":material/store:", "profile", Action.EDIT_OWN_PROFILE),
    PageSpec("pages/admin_import.py", "nav.import", ":material/upload_file:", "import", Action.IMPORT_CASES),
    PageSpec("pages/admin_users.py", "nav.admin_users", ":material/group:", "users", Action.MANAGE_USERS),
    PageSpec("pages/account_settings.py", "nav.account", ":material/person:", "account", Action.VIEW_ACCOUNT),
)


def pages_for(actor: Actor | None) -> list[PageSpec]:
    """The pages this actor may open (all of them, hidden, when nobody is logged in)."""
    if actor is None:
        return list(PAGES)
    return [p for p in PAGES if can(actor, p.action)]


def st_pages(specs: list[PageSpec]) -> list[st.Page]:
    return [
        st.Page(s.path, title=t(s.title_key), icon=s.icon, url_path=s.url_path, default=(i == 0))
        for i, s in enumerate(specs)
    ]


def guard(action: Action) -> Actor:
    """First line of every page: the current actor if it may open this page; otherwise refuse and stop."""
    actor: Actor | None = st.session_state.get(ACTOR_KEY)
    if actor is not None and can(actor, action):
        return actor
    if actor is not None:
        with write_session() as s:
            log_access(s, actor=actor, action="refused", object_type="page", object_ref=str(action))
    st.error(t("app.refused"))
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises; keeps type checkers honest
