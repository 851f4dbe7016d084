"""The page API-Schlüssel under AppTest: a key is shown once, listed with its public id, revocable; admins see
every key; partners and staff are refused."""

from __future__ import annotations

import pytest
import streamlit as st
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core import auth
from core.api_keys import authenticate_api_key, create_api_key
from core.enums import PartnerKind, Role
from core.i18n import t
from core.permissions import SYSTEM, Actor
from core.settings import ROOT, Settings
from core.ui.auth import SESSION_KEY
from core.ui.navigation import ACTOR_KEY
from db.engine import unit_of_work
from db.models import ApiKey
from tests.app.conftest import TIMEOUT, app_database, texts
from tests.factories import make_broker, make_partner, make_user

PAGE = "pages/account_api_keys.py"


@pytest.fixture
def page_world(tmp_path, monkeypatch):
    engine = app_database(tmp_path, monkeypatch)
    broker = make_broker(engine, "Büro Eins")
    partner = make_partner(engine, "Autoglas Eins", PartnerKind.GLASS)
    users = {
        "broker": make_user(engine, "k_broker", Role.BROKER, broker_id=broker),
        "admin": make_user(engine, "k_admin", Role.ADMIN),
        "staff": make_user(engine, "k_staff", Role.STAFF),
        "partner": make_user(engine, "k_partner", Role.PARTNER, partner_id=partner),
    }
    yield engine, users
    engine.dispose()
    st.cache_resource.clear()


def open_page(engine, user_id: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    with unit_of_work(engine) as s:
        at.session_state[SESSION_KEY] = auth.create_session(s, user_id=user_id, settings=Settings.load()).session_id
    at.run()
    at.switch_page(PAGE)
    at.run()
    return at


def test_an_empty_list_says_what_a_key_is_for(page_world):
    engine, users = page_world
    at = open_page(engine, users["broker"])
    assert not at.exception
    assert t("apikeys.empty") in texts(at)


def test_a_created_key_is_shown_once_and_works(page_world):
    engine, users = page_world
    at = open_page(engine, users["broker"])
    at.text_input[0].input("Maklerverwaltung")
    next(b for b in at.button if b.label == t("apikeys.create")).click()
    at.run()
    [shown] = [c.value for c in at.code]
    assert shown.startswith("sp_")
    assert t("apikeys.shown_once") in texts(at)
    with unit_of_work(engine) as s:
        assert authenticate_api_key(s, key=shown).actor.user_id == users["broker"]
        public_id = s.scalar(select(ApiKey.public_id))
    assert f"`{public_id}`" in texts(at) and "Maklerverwaltung" in texts(at)
    at.run()
    assert [c.value for c in at.code] == []  # gone at the next run: it is stored only as a hash


def test_a_broker_revokes_its_key(page_world):
    engine, users = page_world
    with unit_of_work(engine) as s:
        plaintext, _ = create_api_key(s, actor=SYSTEM, name="Altsystem", owner_id=users["broker"])
    at = open_page(engine, users["broker"])
    next(b for b in at.button if b.label == t("apikeys.revoke")).click()
    at.run()
    assert t("apikeys.revoked", name="Altsystem") in texts(at)
    assert not [b for b in at.button if b.label == t("apikeys.revoke")]
    with unit_of_work(engine) as s:
        assert authenticate_api_key(s, key=plaintext) is None


def test_an_admin_sees_every_key_with_its_owner(page_world):
    engine, users = page_world
    with unit_of_work(engine) as s:
        create_api_key(s, actor=SYSTEM, name="Büro-System", owner_id=users["broker"])
    at = open_page(engine, users["admin"])
    assert t("apikeys.all") in texts(at)
    assert "k_broker" in texts(at) and "Büro-System" in texts(at)
    assert [b.label for b in at.button if b.label == t("apikeys.revoke")] == [t("apikeys.revoke")]


def test_an_admin_creates_a_key_for_a_broker_that_carries_the_brokers_rights(page_world):
    engine, users = page_world
    at = open_page(engine, users["admin"])
    [owner] = at.selectbox
    assert "k_admin" in owner.options[0]  # the admin's own login first
    assert not any("k_staff" in o or "k_partner" in o for o in owner.options)  # staff and partners hold no keys
    owner.select(users["broker"])
    at.text_input[0].input("Maklerprogramm Büro Eins")
    next(b for b in at.button if b.label == t("apikeys.create")).click()
    at.run()
    [shown] = [c.value for c in at.code]
    assert "k_broker" in texts(at)
    with unit_of_work(engine) as s:
        caller = authenticate_api_key(s, key=shown)
        assert (caller.actor.user_id, caller.actor.role) == (users["broker"], Role.BROKER)
        assert s.scalar(select(ApiKey.created_by_id)) == users["admin"]


@pytest.mark.parametrize(("who", "role"), [("partner", Role.PARTNER), ("staff", Role.STAFF)])
def test_partner_and_staff_are_refused(page_world, who, role):
    _, users = page_world
    page = AppTest.from_file(str(ROOT / PAGE), default_timeout=TIMEOUT)
    page.session_state[ACTOR_KEY] = Actor(user_id=users[who], username=f"k_{who}", display_name=who, role=role)
    page.run()
    assert [e.value for e in page.error] == [t("app.refused")]
