"""Who reaches what over real HTTP: keys, refusals that reveal nothing, the rate limit, last use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core import users
from core.api_keys import create_api_key, list_api_keys, revoke_api_key
from core.auth import actor_for
from core.enums import Role
from core.errors import NotFound, PermissionDenied, ValidationError
from core.i18n import t
from core.permissions import SYSTEM
from db.engine import unit_of_work
from db.models import AccessLog, ApiKey, User
from tests.api.conftest import build_world
from tests.unit.test_upload_validation import make_pdf

UNKNOWN = "SP-1999-999999"
PDF = make_pdf("Rechnung")


def actor(world, who: str):
    with unit_of_work(world.engine) as s:
        return actor_for(s.get(User, world.users[who]))


def test_without_a_key_the_answer_is_401_as_json(world):
    response = world.client().get("/v1/cases")
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "unauthorized", "message": t("api.err_no_key"), "fields": {}}}
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("key", ["sp_0123abcd_" + "A" * 43, "nonsense", "Bearer", "sp_" + "x" * 200])
def test_an_unknown_or_malformed_key_is_401(world, key):
    response = world.client(key).get("/v1/cases")
    assert (response.status_code, response.json()["error"]["message"]) == (401, t("api.err_bad_key"))


def test_a_key_with_its_secret_changed_is_401(world):
    forged = world.keys["broker_a"][:-4] + ("AAAA" if not world.keys["broker_a"].endswith("AAAA") else "BBBB")
    assert world.client(forged).get("/v1/cases").status_code == 401


def test_the_x_api_key_header_works_like_the_bearer_token(world):
    response = world.client("broker_a", header="x-api-key").get(f"/v1/cases/{world.case_a}")
    assert (response.status_code, response.json()["number"]) == (200, world.case_a)


def test_a_revoked_key_is_401_and_the_refusal_is_logged(world):
    user_id, key = world.new_broker("api_revoked")
    client = world.client(key)
    assert client.get("/v1/cases").status_code == 200
    owner = actor(world, "api_revoked")
    with unit_of_work(world.engine) as s:
        key_id = s.scalar(select(ApiKey.id).where(ApiKey.user_id == user_id))
        revoke_api_key(s, actor=owner, key_id=key_id)
    assert client.get("/v1/cases").status_code == 401
    with unit_of_work(world.engine) as s:
        refused = s.scalars(select(AccessLog).where(AccessLog.object_type == "api_key",
                                                    AccessLog.action == "refused",
                                                    AccessLog.username == "api_revoked")).all()
    assert [r.detail for r in refused] == ["revoked"]


def test_the_key_of_a_deactivated_login_is_401(world):
    user_id, key = world.new_broker("api_deactivated")
    assert world.client(key).get("/v1/cases").status_code == 200
    with unit_of_work(world.engine) as s:
        users.set_active(s, actor=SYSTEM, user_id=user_id, active=False)
    assert world.client(key).get("/v1/cases").status_code == 401


def test_the_key_of_a_login_moved_to_a_role_without_api_is_401(world):
    user_id, key = world.new_broker("api_moved")
    with unit_of_work(world.engine) as s:
        s.get(User, user_id).role = Role.STAFF
    assert world.client(key).get("/v1/cases").status_code == 401


@pytest.mark.parametrize("who", ["partner", "staff"])
def test_partner_and_staff_logins_cannot_hold_keys(world, who):
    own = actor(world, who)
    with unit_of_work(world.engine) as s, pytest.raises(PermissionDenied):
        create_api_key(s, actor=own, name="Mein System")
    with unit_of_work(world.engine) as s, pytest.raises(ValidationError) as refused:
        create_api_key(s, actor=SYSTEM, name="Für andere", owner_id=world.users[who])
    assert str(refused.value) == t("api.key_owner_refused")


def test_a_broker_cannot_list_or_revoke_another_brokers_keys(world):
    broker_a = actor(world, "broker_a")
    with unit_of_work(world.engine) as s:
        other = s.scalar(select(ApiKey.id).where(ApiKey.user_id == world.users["broker_b"]))
        assert [k.owner for k in list_api_keys(s, actor=broker_a)] == ["api_broker_a"]
        with pytest.raises(PermissionDenied):
            list_api_keys(s, actor=broker_a, include_all=True)
        with pytest.raises(NotFound):
            revoke_api_key(s, actor=broker_a, key_id=other)


@pytest.mark.parametrize("path", ["/v1/cases/{n}", "/v1/cases/{n}/timeline"])
def test_another_brokers_case_is_refused_exactly_like_an_unknown_one(world, path):
    client = world.client("broker_b")
    foreign, unknown = client.get(path.format(n=world.case_a)), client.get(path.format(n=UNKNOWN))
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json() == {"error": {"code": "not_found", "message": t("case.refused"),
                                                          "fields": {}}}
    assert foreign.content == unknown.content


def test_an_upload_to_another_brokers_case_is_refused_like_one_to_an_unknown_case(world):
    client = world.client("broker_b")

    def upload(number):
        return client.post(f"/v1/cases/{number}/documents", data={"kind": "photo"},
                           files={"file": ("r.pdf", PDF, "application/pdf")})

    foreign, unknown = upload(world.case_a), upload(UNKNOWN)
    assert (foreign.status_code, foreign.content) == (unknown.status_code, unknown.content)
    assert foreign.status_code == 404


def test_refused_case_reads_are_written_to_the_access_log(world):
    def refusals():
        with unit_of_work(world.engine) as s:
            return s.scalars(select(AccessLog.object_ref).where(
                AccessLog.action == "refused", AccessLog.object_type == "case",
                AccessLog.username == "api_broker_b")).all()

    before = refusals()
    world.client("broker_b").get(f"/v1/cases/{world.case_a}")
    assert refusals() == [*before, world.case_a]


def test_a_broker_key_lists_only_its_agency_and_an_admin_key_all(world):
    own = world.client("broker_b").get("/v1/cases").json()
    everything = world.client("admin").get("/v1/cases", params={"per_page": 100}).json()
    assert [c["number"] for c in own["items"]] == [world.case_b]
    assert {world.case_a, world.case_b} <= {c["number"] for c in everything["items"]}
    assert world.client("admin").get(f"/v1/cases/{world.case_a}").status_code == 200


def test_last_used_is_set_and_written_at_most_once_a_minute(world):
    user_id, key = world.new_broker("api_last_used")
    start = datetime(2026, 12, 4, 10, 0, 5, tzinfo=UTC)
    client = world.client(key)

    def last_used():
        with unit_of_work(world.engine) as s:
            return s.scalar(select(ApiKey.last_used_at).where(ApiKey.user_id == user_id))

    assert last_used() is None
    world.clock.pinned = start
    client.get("/v1/cases")
    world.clock.pinned = start + timedelta(seconds=30)
    client.get("/v1/cases")
    assert last_used() == start
    world.clock.pinned = start + timedelta(seconds=61)
    client.get("/v1/cases")
    assert last_used() == start + timedelta(seconds=61)


@pytest.fixture
def limited(database_url, tmp_path):  # its own app: the limit is a setting
    yield from build_world(database_url, tmp_path, API_RATE_LIMIT_PER_MINUTE="3")


def test_the_rate_limit_answers_429_with_retry_after_and_recovers_in_the_next_window(limited):
    limited.clock.pinned = datetime(2026, 12, 4, 10, 0, 15, tzinfo=UTC)
    client = limited.client("broker_a")
    answers = [client.get("/v1/cases") for _ in range(3)]
    refused = client.get(f"/v1/cases/{limited.case_a}")
    assert [(a.status_code, a.headers["x-ratelimit-remaining"]) for a in answers] == [
        (200, "2"), (200, "1"), (200, "0")]
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "45"
    assert refused.json()["error"]["code"] == "rate_limited"
    assert limited.client("broker_b").get("/v1/cases").status_code == 200  # another key has its own count
    limited.clock.pinned = datetime(2026, 12, 4, 10, 1, 0, tzinfo=UTC)
    assert client.get("/v1/cases").status_code == 200


def test_creating_and_revoking_a_key_are_written_to_the_access_log(world):
    owner = actor(world, "broker_b")
    with unit_of_work(world.engine) as s:
        _, view = create_api_key(s, actor=owner, name="Zweitsystem")
    with unit_of_work(world.engine) as s:
        revoke_api_key(s, actor=owner, key_id=view.id)
    with unit_of_work(world.engine) as s:
        logged = s.execute(select(AccessLog.action, AccessLog.username, AccessLog.detail).where(
            AccessLog.object_type == "api_key", AccessLog.object_ref == view.public_id).order_by(AccessLog.id)).all()
    assert [tuple(r) for r in logged] == [("api_key_create", "api_broker_b", "owner=api_broker_b"),
                                          ("api_key_revoke", "api_broker_b", "owner=api_broker_b")]
    assert world.client("broker_b").get("/v1/cases").status_code == 200  # its other key still works
