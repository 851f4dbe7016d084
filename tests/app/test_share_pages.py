"""Share links in the app: the public page offers a valid link's file and says one neutral thing for every other
link; on the case page staff make a link (shown once), see the active links and revoke one."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core import share_links
from core.documents import upload_document
from core.enums import DocumentKind, Role
from core.i18n import t
from core.permissions import Actor
from core.settings import ROOT
from core.timeutil import now
from db.engine import unit_of_work
from db.models import AccessLog, ShareLink
from tests.app.conftest import TIMEOUT, texts
from tests.unit.test_upload_validation import make_pdf

PDF = make_pdf("Gutachten 0815")


def staff(world) -> Actor:
    return Actor(user_id=world.users[Role.STAFF], username="t_staff", display_name="T Staff", role=Role.STAFF)


@pytest.fixture
def version_id(world) -> int:
    with unit_of_work(world.engine) as s:
        return upload_document(s, actor=staff(world), settings=world.settings, case_number=world.own_case,
                               kind=DocumentKind.REPORT, filename="gutachten-eigen.pdf", data=PDF).id


def make_link(world, version_id, **kw) -> str:
    with unit_of_work(world.engine) as s:
        made = share_links.create_share_link(s, actor=staff(world), settings=world.settings, version_id=version_id,
                                             recipient_kind="insurer", recipient="HUK-COBURG", purpose="Regulierung",
                                             days=7, **kw)
    return made.url.split("?t=", 1)[1]


def public(token: str | None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/public_share.py"), default_timeout=TIMEOUT)
    if token is not None:
        at.query_params["t"] = token
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_valid_link_shows_the_file_and_a_download(world, version_id):
    at = public(make_link(world, version_id))
    assert t("share.title") in texts(at)
    assert "gutachten-eigen.pdf" in texts(at)
    assert [b.proto.label for b in at.get("download_button")] == [t("share.download")]
    assert not at.error


def test_the_page_tells_nothing_about_the_case(world, version_id):
    at = public(make_link(world, version_id))
    shown = texts(at)
    assert world.own_case not in shown and "Eigen" not in shown and "HUK" not in shown


def bad_tokens(world, version_id) -> dict[str, str]:
    good = make_link(world, version_id)
    revoked = make_link(world, version_id)
    with unit_of_work(world.engine) as s:
        link_id = s.scalar(select(ShareLink.id).where(ShareLink.token_hash == share_links.token_hash(revoked)))
        share_links.revoke_share_link(s, actor=staff(world), link_id=link_id)
    expired = make_link(world, version_id, at=now() - timedelta(days=8))
    return {
        "revoked": revoked, "expired": expired, "tampered": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "unknown": share_links.make_token(world.settings), "garbage": "<script>", "empty": "",
    }


def test_every_bad_link_gets_the_same_neutral_message(world, version_id):
    pages = {name: public(token) for name, token in bad_tokens(world, version_id).items()}
    pages["missing"] = public(None)
    for name, at in pages.items():
        assert [e.value for e in at.error] == [t("share.unavailable")], name
        assert not at.get("download_button"), name
        assert texts(at) == texts(pages["missing"]), name
        assert world.own_case not in texts(at)


def test_refusals_are_logged_with_the_reason(world, version_id):
    tokens = bad_tokens(world, version_id)
    for token in tokens.values():
        public(token)
    with unit_of_work(world.engine) as s:
        reasons = list(s.scalars(select(AccessLog.detail).where(AccessLog.object_type == "share_link",
                                                                 AccessLog.action == "refused")))
    assert sorted(reasons) == sorted(["revoked", "expired", "invalid", "unknown", "invalid", "invalid"])


def case_documents(world, role):
    at = world.app(role, page="pages/case_view.py")
    at.query_params["nr"] = world.own_case
    at.run()
    assert not at.exception, at.exception
    return at


def test_staff_make_a_link_shown_once_and_see_it_listed(world, version_id):
    at = case_documents(world, Role.STAFF)
    assert t("share.section") in texts(at)
    at.text_input(key="share_recipient").input("Kanzlei Meyer")
    at.text_input(key="share_purpose").input("Klage vorbereiten")
    at.selectbox(key="share_kind").set_value(share_links.ShareRecipient.LAWYER)
    at.number_input(key="share_days").set_value(14)
    next(b for b in at.button if b.label == t("share.create")).click().run()
    assert not at.exception, at.exception
    [code] = at.code
    assert code.value.startswith(f"{world.settings.base_url}/freigabe?t=")
    assert t("share.created") in texts(at)
    line = next(x.value for x in at.text if "Kanzlei Meyer" in x.value)
    assert "Gutachten v1" in line and "Klage vorbereiten" in line and "0 Abruf(e)" in line
    token = code.value.split("?t=", 1)[1]
    assert public(token).get("download_button")
    at.run()  # shown once: gone on the next run
    assert not at.code


def test_bad_input_in_the_form_is_named_and_nothing_is_made(world, version_id):
    at = case_documents(world, Role.STAFF)
    at.text_input(key="share_purpose").input("Regulierung")
    next(b for b in at.button if b.label == t("share.create")).click().run()
    assert t("share.recipient_missing") in [e.value for e in at.error]
    with unit_of_work(world.engine) as s:
        assert s.scalars(select(ShareLink)).all() == []


def test_staff_revoke_a_link_from_the_case_page(world, version_id):
    token = make_link(world, version_id)
    at = case_documents(world, Role.STAFF)
    assert any("HUK-COBURG" in x.value for x in at.text)
    next(b for b in at.button if b.label == t("share.revoke")).click().run()
    assert not at.exception, at.exception
    assert t("share.revoked") in texts(at)
    assert t("share.none") in texts(at)
    assert [e.value for e in public(token).error] == [t("share.unavailable")]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.PARTNER])
def test_roles_without_the_grant_see_no_share_section(world, version_id, role):
    at = case_documents(world, role)
    assert t("share.section") not in texts(at)
