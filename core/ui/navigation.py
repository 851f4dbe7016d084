"""The page registry: which pages exist, which action opens each (or that it is public), and the first
line every page runs: `guard(Action.…)`, or `public_page()` for the few pages that need no login."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import streamlit as st

from core.audit import log_access
from core.i18n import t
from core.permissions import Action, Actor, can
from core.ui.activity import ACTOR_KEY, mark_refused
from core.ui.resources import write_session


class Menu(StrEnum):
    """Where a public page is listed in the menu (a page behind the login is listed for whoever may open it)."""

    ALWAYS = "always"
    VISITORS = "visitors"  # only while nobody is logged in
    NEVER = "never"  # reached by a link (e.g. from a mail)


@dataclass(frozen=True)
class PageSpec:
    path: str
    title_key: str
    icon: str
    url_path: str
    action: Action | None  # None only for a public page
    section: str = ""  # the menu section when the menu is long enough to be grouped ("": the daily work)
    public: bool = False  # opens without login; its first line is `actor = public_page()`
    menu: Menu = Menu.ALWAYS


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/home.py", "nav.home", ":material/home:", "start", Action.VIEW_START),
    PageSpec("pages/staff_board.py", "nav.board", ":material/table_view:", "board", Action.LIST_CASES),
    PageSpec("pages/staff_search.py", "nav.search", ":material/search:", "search", Action.SEARCH_DOCUMENTS),
    PageSpec("pages/staff_inbound_mail.py", "nav.inbound_mail", ":material/inbox:", "posteingang",
             Action.HANDLE_INBOUND_MAIL),
    PageSpec("pages/manager_kpis.py", "nav.kpis", ":material/monitoring:", "kpis", Action.VIEW_KPIS),
    PageSpec("pages/staff_intake.py", "nav.intake", ":material/note_add:", "intake", Action.CREATE_CASE),
    PageSpec("pages/broker_submit.py", "nav.broker_submit", ":material/note_add:", "submit", Action.SUBMIT_CASE),
    PageSpec("pages/case_view.py", "nav.case", ":material/folder_open:", "case", Action.VIEW_CASE),
    PageSpec("pages/partner_orders.py", "nav.orders", ":material/assignment:", "orders", Action.VIEW_OWN_ORDERS),
    PageSpec("pages/partner_settlements.py", "nav.my_settlements", ":material/receipt_long:", "my-settlements",
             Action.VIEW_OWN_SETTLEMENTS),
    PageSpec("pages/partner_profile.py", "nav.profile", ":material/store:", "profile", Action.EDIT_OWN_PROFILE),
    PageSpec("pages/staff_settlements.py", "nav.settlements", ":material/payments:", "settlements",
             Action.MANAGE_SETTLEMENTS),
    PageSpec("pages/admin_import.py", "nav.import", ":material/upload_file:", "import", Action.IMPORT_CASES, section="admin"),
    PageSpec("pages/admin_users.py", "nav.admin_users", ":material/group:", "users", Action.MANAGE_USERS, section="admin"),
    PageSpec("pages/admin_templates.py", "nav.templates", ":material/edit_note:", "templates",
             Action.MANAGE_TEMPLATES, section="admin"),
    PageSpec("pages/admin_outbox.py", "nav.outbox", ":material/outbox:", "outbox", Action.MANAGE_SETTINGS, section="admin"),
    PageSpec("pages/admin_ops.py", "nav.ops", ":material/monitor_heart:", "betrieb", Action.VIEW_OPS, section="admin"),
    PageSpec("pages/admin_webhooks.py", "nav.webhooks", ":material/webhook:", "webhooks", Action.MANAGE_WEBHOOKS, section="admin"),
    PageSpec("pages/admin_partners.py", "nav.partners", ":material/handshake:", "partners", Action.MANAGE_PARTNERS, section="admin"),
    PageSpec("pages/admin_chronicles.py", "nav.chronicles", ":material/history_edu:", "chronicles",
             Action.VIEW_AUDIT_LOG, section="audit"),
    PageSpec("pages/admin_access_log.py", "nav.access_log", ":material/manage_search:", "access-log",
             Action.VIEW_AUDIT_LOG, section="audit"),
    PageSpec("pages/admin_verify.py", "nav.verify", ":material/verified_user:", "verify", Action.VIEW_AUDIT_LOG, section="audit"),
    PageSpec("pages/admin_subjects.py", "nav.subjects", ":material/privacy_tip:", "betroffenenrechte", Action.GDPR, section="audit"),
    PageSpec("pages/account_api_keys.py", "nav.api_keys", ":material/key:", "api-schluessel", Action.USE_API, section="account"),
    PageSpec("pages/account_settings.py", "nav.account", ":material/person:", "account", Action.VIEW_ACCOUNT, section="account"),
    # public pages last: the first page a logged-in user may open is the default
    PageSpec("pages/public_apply.py", "nav.apply", ":material/storefront:", "partner-werden", None, public=True,
             menu=Menu.VISITORS),
    PageSpec("pages/public_help.py", "nav.help", ":material/help:", "hilfe", None, public=True, section="account"),
    PageSpec("pages/public_privacy.py", "nav.privacy", ":material/policy:", "datenschutz", None, public=True, section="account"),
    PageSpec("pages/public_set_password.py", "nav.set_password", ":material/password:", "passwort", None,
             public=True, menu=Menu.NEVER),
    PageSpec("pages/public_status.py", "nav.status", ":material/track_changes:", "status", None, public=True,
             menu=Menu.NEVER),
    PageSpec("pages/public_survey.py", "nav.survey", ":material/reviews:", "umfrage", None, public=True,
             menu=Menu.NEVER),
    PageSpec("pages/public_share.py", "nav.share", ":material/share:", "freigabe", None, public=True,
             menu=Menu.NEVER),
)
LOGIN_URL_PATH = "anmelden"


def pages_for(actor: Actor | None) -> list[PageSpec]:
    """The pages registered for this actor: the ones it may open and the public ones. Nobody logged in:
    all of them, so a deep link such as /case?nr=… survives the login (see `listed`)."""
    if actor is None:
        return list(PAGES)
    return [p for p in PAGES if p.public or can(actor, p.action)]


def listed(spec: PageSpec, actor: Actor | None) -> bool:
    """Whether the page shows in the menu; pages behind the login stay hidden while nobody is logged in."""
    if not spec.public:
        return actor is not None
    return spec.menu == Menu.ALWAYS or (spec.menu == Menu.VISITORS and actor is None)


#: A menu with more entries than this (an admin's) is shown in sections, shorter ones as one list.
GROUPED_FROM = 12


def menu_sections(specs: list[PageSpec], actor: Actor | None) -> dict[str, list[PageSpec]] | None:
    """A long menu's sections (nav.section.*: daily work, administration, audit and data protection, account), in
    page order, hidden pages with the daily work (no empty section); None for a menu short enough for one list."""
    if actor is None or sum(listed(s, actor) for s in specs) <= GROUPED_FROM:
        return None
    grouped: dict[str, list[PageSpec]] = {}
    for spec in specs:
        section = (spec.section if listed(spec, actor) else "") or "work"
        grouped.setdefault(t(f"nav.section.{section}"), []).append(spec)
    return grouped


def st_pages(specs: list[PageSpec], actor: Actor | None, *,
             login: Callable[[], None] | None = None) -> list[st.Page] | dict[str, list[st.Page]]:
    """The st.Page objects for st.navigation, in sections for a long menu (menu_sections); with `login`, the login
    page comes first and is the default."""
    pages = []
    if login is not None:
        pages.append(st.Page(login, title=t("nav.login"), icon=":material/login:", url_path=LOGIN_URL_PATH,
                             default=True))
    built = {
        s.path: st.Page(s.path, title=t(s.title_key), icon=s.icon, url_path=s.url_path, default=(not pages and i == 0),
                        visibility="visible" if listed(s, actor) else "hidden")
        for i, s in enumerate(specs)
    }
    sections = menu_sections(specs, actor) if login is None else None
    if sections is None:
        return pages + list(built.values())
    return {name: [built[s.path] for s in section] for name, section in sections.items()}


def opens_without_login(page: st.Page) -> bool:
    """True for the login page (the default while nobody is logged in) and the public pages."""
    return page.url_path in {"", LOGIN_URL_PATH} | {s.url_path for s in PAGES if s.public}


def public_page() -> Actor | None:
    """First line of a public page (no login needed): the logged-in actor, or None for a visitor."""
    return st.session_state.get(ACTOR_KEY)


def guard(action: Action) -> Actor:
    """First line of every page: the current actor if it may open this page; otherwise refuse and stop."""
    actor: Actor | None = st.session_state.get(ACTOR_KEY)
    if actor is not None and can(actor, action):
        return actor
    if actor is not None:
        with write_session() as s:
            log_access(s, actor=actor, action="refused", object_type="page", object_ref=str(action))
    mark_refused()
    st.error(t("app.refused"))
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises; keeps type checkers honest
