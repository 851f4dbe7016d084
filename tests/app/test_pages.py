"""Every page × every role (and nobody logged in): it renders for those who may see it and refuses the others;
a logged-out visitor gets the public pages and, for every other page, the login in its place."""

import pytest
from streamlit.testing.v1 import AppTest

from core.enums import Role
from core.i18n import t
from core.permissions import Actor, can
from core.settings import ROOT
from core.ui.navigation import ACTOR_KEY, PAGES, listed
from tests.app.conftest import TIMEOUT, table_text, texts

ROLES = [Role.ADMIN, Role.MANAGER, Role.STAFF, Role.LAWYER, Role.PARTNER, Role.BROKER]
#: What each page shows for a role that may open it (the case page without a number shows its search box).
MARKER = {
    "start": "home.title", "board": "board.title", "intake": "intake.title", "submit": "intake.broker_title",
    "case": "case.search", "import": "import.title", "users": "users.title", "templates": "tpl.title", "outbox": "outbox.title", "account": "account.title",
    "profile": "profile.title", "partners": "padmin.title", "partner-werden": "apply.title",
    "datenschutz": "privacy.title", "passwort": "setpw.title", "status": "client.title", "umfrage": "survey.title", "orders": "orders.title",
    "my-settlements": "settle.my_title", "settlements": "settle.title",
    "webhooks": "webhooks.title",
    "chronicles": "chron.page_title",
    "betroffenenrechte": "subject.title",
    "access-log": "alog.title", "verify": "verify.title", "freigabe": "share.title",
    "kpis": "kpi.title",
    "search": "search.title",
    "posteingang": "inmail.title",
    "betrieb": "ops.title",
    "api-schluessel": "apikeys.title",
    "hilfe": "help.title",
}
MATRIX = [(spec, role) for spec in PAGES for role in ROLES]


def ident(value):
    return value.url_path if hasattr(value, "url_path") else str(value)


@pytest.mark.parametrize(("spec", "role"), MATRIX, ids=ident)
def test_page_for_role(world, spec, role):
    actor = Actor(user_id=world.users[role], username="x", display_name="x", role=role)
    if spec.public or can(actor, spec.action):
        at = world.app(role, page=spec.path)
        assert not at.exception, at.exception
        assert t("app.refused") not in texts(at)
        shown = texts(at) + "\n".join(w.label for w in at.text_input)
        assert t(MARKER[spec.url_path]) in shown
    else:
        # not in the navigation ...
        at = world.app(role)
        assert spec.path not in [p for p in _registered(at)]
        # ... and refused when its script is reached anyway
        page = AppTest.from_file(str(ROOT / spec.path), default_timeout=TIMEOUT)
        page.session_state[ACTOR_KEY] = Actor(
            user_id=world.users[role], username="x", display_name="x", role=role, partner_id=world.partner_id
        )
        page.run()
        assert [e.value for e in page.error] == [t("app.refused")]


@pytest.mark.parametrize("spec", PAGES, ids=ident)
def test_page_for_visitor(world, spec):
    at = world.app(None, page=spec.path)
    assert not at.exception, at.exception
    if spec.public:
        assert t(MARKER[spec.url_path]) in texts(at)
        assert t("login.username") not in [ti.label for ti in at.text_input]
    else:  # the login in place of the page, at the page's own address
        assert t("login.title") in texts(at)
        assert [ti.label for ti in at.text_input][:2] == [t("login.username"), t("login.password")]
        assert t(MARKER[spec.url_path]) not in texts(at)


def test_visitor_menu_lists_login_apply_help_and_privacy_only():
    assert [spec.url_path for spec in PAGES if listed(spec, None)] == ["partner-werden", "hilfe", "datenschutz"]


def test_logged_in_menu_adds_help_and_privacy_but_not_the_application():
    staff = Actor(user_id=1, username="x", display_name="x", role=Role.STAFF)
    public_listed = [spec.url_path for spec in PAGES if spec.public and listed(spec, staff)]
    assert public_listed == ["hilfe", "datenschutz"]


def _registered(at: AppTest) -> list[str]:
    """The page scripts the navigation registered for this run (from the app's page registry)."""
    from core.ui.navigation import pages_for

    actor = at.session_state[ACTOR_KEY]
    return [p.path for p in pages_for(actor)]


def test_logged_out_shows_the_login_form_and_demo_logins(world):
    at = world.app(None)
    assert not at.exception
    assert t("login.title") in texts(at)
    assert [ti.label for ti in at.text_input][:2] == [t("login.username"), t("login.password")]
    assert "glas1" in table_text(at)


def test_logged_out_page_script_refuses(world):
    page = AppTest.from_file(str(ROOT / "pages/home.py"), default_timeout=TIMEOUT)
    page.run()
    assert [e.value for e in page.error] == [t("app.refused")]


def test_staff_start_page_lists_open_cases_by_deadline(world):
    at = world.app(Role.STAFF)
    assert t("home.open_by_status") in texts(at)
    assert world.own_case in table_text(at) and world.foreign_case in table_text(at)


def test_partner_start_page_lists_only_own_orders(world):
    at = world.app(Role.PARTNER)
    assert t("home.my_orders") in texts(at)
    assert world.own_case in table_text(at)
    assert world.foreign_case not in table_text(at)


def test_broker_start_page_lists_only_own_cases(world):
    at = world.app(Role.BROKER)
    assert world.own_case in table_text(at) and world.foreign_case not in table_text(at)


def test_manager_start_page_shows_headline_figures(world):
    at = world.app(Role.MANAGER)
    assert t("home.cases_this_month") in texts(at)
    assert [m.value for m in at.metric if m.label == t("home.open_cases")] == ["2"]


def test_admin_start_page_shows_system_overview(world):
    at = world.app(Role.ADMIN)
    assert t("home.sessions_active") in texts(at)


def test_staff_start_page_lists_my_tasks_overdue_first(world):
    from datetime import timedelta

    from core import tasks
    from core.permissions import Actor
    from core.timeutil import now
    from db.engine import unit_of_work

    me = Actor(user_id=world.users[Role.STAFF], username="t_staff", display_name="S", role=Role.STAFF)
    with unit_of_work(world.engine) as s:
        tasks.add_task(s, actor=me, number=world.own_case, title="Später", due_at=now() + timedelta(days=3),
                       assignee_id=me.user_id)
        late = tasks.add_task(s, actor=me, number=world.own_case, title="Überfällig", due_at=now() + timedelta(days=1),
                              assignee_id=me.user_id)
        late.due_at = now() - timedelta(hours=2)
    at = world.app(Role.STAFF)
    frame = at.dataframe[0].value
    assert list(frame.iloc[:, 1]) == ["🔴 Überfällig", "Später"]


def test_every_page_has_a_marker():
    assert set(MARKER) == {spec.url_path for spec in PAGES}


def test_partner_start_page_shows_the_weekly_quota(world):
    at = world.app(Role.PARTNER)
    labels = [m.label for m in at.metric]
    assert any(label.startswith("Ihre Aufträge") for label in labels)
    assert any(label.startswith("Durchschnitt im Netz (2 Betriebe)") for label in labels)
