"""AppTest fixtures: a file-backed SQLite database, real users and real server-side sessions."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import auth
from core.enums import PartnerKind, Role
from core.settings import ROOT, Settings
from core.ui.auth import SESSION_KEY
from db.engine import make_engine, unit_of_work
from db.migrate import upgrade_to_head
from tests.factories import make_broker, make_case, make_partner, make_user

TIMEOUT = 30


@dataclass
class World:
    engine: object
    settings: Settings
    users: dict[Role, int]
    partner_id: int
    other_partner_id: int
    broker_id: int
    own_case: str  # assigned to partner_id, submitted by broker_id
    foreign_case: str  # another partner's, another broker's

    def app(self, role: Role | None, *, page: str | None = None) -> AppTest:
        """The whole app, logged in as `role` (None: logged out), optionally switched to a page."""
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
        if role is not None:
            with unit_of_work(self.engine) as s:
                info = auth.create_session(s, user_id=self.users[role], settings=self.settings)
            at.session_state[SESSION_KEY] = info.session_id
        at.run()
        if page:
            at.switch_page(page)
            at.run()
        return at


def app_database(tmp_path, monkeypatch):
    """A migrated SQLite file the app under AppTest uses (demo mode, data under tmp_path), caches cleared."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("APP_MODE", "demo")
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = make_engine(url)
    upgrade_to_head(engine)
    return engine


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    engine = app_database(tmp_path, monkeypatch)
    partner_id = make_partner(engine, "Autoglas Eins", PartnerKind.GLASS)
    other_partner_id = make_partner(engine, "Autoglas Zwei", PartnerKind.GLASS)
    broker_id = make_broker(engine, "Büro Eins")
    other_broker = make_broker(engine, "Büro Zwei")
    users = {
        Role.ADMIN: make_user(engine, "t_admin", Role.ADMIN),
        Role.MANAGER: make_user(engine, "t_manager", Role.MANAGER),
        Role.STAFF: make_user(engine, "t_staff", Role.STAFF),
        Role.LAWYER: make_user(engine, "t_lawyer", Role.LAWYER),
        Role.PARTNER: make_user(engine, "t_partner", Role.PARTNER, partner_id=partner_id),
        Role.BROKER: make_user(engine, "t_broker", Role.BROKER, broker_id=broker_id),
    }
    own = make_case(engine, partner_id=partner_id, broker_id=broker_id, last_name="Eigen")
    foreign = make_case(engine, partner_id=other_partner_id, broker_id=other_broker, last_name="Fremd")
    yield World(engine, Settings.load(), users, partner_id, other_partner_id, broker_id, own, foreign)
    engine.dispose()
    st.cache_resource.clear()


def texts(at: AppTest) -> str:
    """Everything the page shows as text (markdown, titles, alerts, captions, metrics)."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "error", "warning", "info", "success", "text"):
        parts += [str(el.value) for el in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def table_text(at: AppTest) -> str:
    return "\n".join(df.value.to_string() for df in at.dataframe)
