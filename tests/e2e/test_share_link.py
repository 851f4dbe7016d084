"""A clerk shares an appraisal report with the insurer from the case page; the insurer opens the link in
Chromium and downloads exactly the stored bytes; the clerk revokes the link and it shows the neutral message."""

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.cases import NewCase, create_case
from core.documents import upload_document
from core.enums import DamageType, DocumentKind, Role
from core.i18n import t
from core.permissions import SYSTEM
from core.settings import Settings
from core.share_links import token_hash
from core.users import create_user
from db.engine import make_engine, unit_of_work
from db.models import ShareLink, User
from tests.e2e.browser import login_with_new_totp, settle
from tests.e2e.conftest import PASSWORD
from tests.unit.test_upload_validation import make_pdf

pytestmark = pytest.mark.e2e
REPORT = make_pdf("Gutachten G-E2E-7", "Schadenhöhe 1.234,56 EUR")


@pytest.fixture
def case_with_report(app_data, tmp_path) -> str:
    """A case with an appraisal report, and a clerk login that needs TOTP."""
    data_dir, url = app_data
    settings = Settings.load(env={"DATABASE_URL": url, "DATA_DIR": str(data_dir), "APP_MODE": "demo"},
                             secrets_path=tmp_path / "none.toml")
    engine = make_engine(url)
    try:
        with unit_of_work(engine) as s:
            case = create_case(s, actor=SYSTEM, data=NewCase(
                damage_type=DamageType.ACCIDENT, insurer_name="HUK-COBURG", client_last_name="Teilung",
                client_first_name="Tara", postal_code="10115", plate="B-SL 2026"))
            number = case.number
            if s.scalar(select(User).where(User.username == "e2e_sharer")) is None:
                create_user(s, actor=SYSTEM, username="e2e_sharer", display_name="E2E Sharer", email="",
                            role=Role.STAFF, password=PASSWORD)
        with unit_of_work(engine) as s:
            upload_document(s, actor=SYSTEM, settings=settings, case_number=number, kind=DocumentKind.REPORT,
                            filename="gutachten-teilung.pdf", data=REPORT)
    finally:
        engine.dispose()
    return number


def test_share_download_then_revoke(app_url, app_data, browser, case_with_report):
    number = case_with_report
    office = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    office.set_default_timeout(20_000)
    clerk = office.new_page()
    login_with_new_totp(clerk, app_url, "e2e_sharer", PASSWORD)
    clerk.goto(f"{app_url}/case?nr={number}")
    settle(clerk)
    clerk.get_by_role("tab", name=t("case.tab_documents")).click()
    clerk.get_by_label(t("share.recipient")).fill("HUK-COBURG Schadenabteilung")
    clerk.get_by_label(t("share.purpose")).fill("Regulierung des Unfallschadens")
    clerk.get_by_role("button", name=t("share.create")).click()
    expect(clerk.get_by_text(t("share.created")).first).to_be_visible()
    code = clerk.locator("[data-testid='stCode'] code").first
    expect(code).to_contain_text("/freigabe?t=")
    token = code.inner_text().strip().split("/freigabe?t=", 1)[1]  # the link is built on BASE_URL

    insurer_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE", accept_downloads=True)
    insurer_ctx.set_default_timeout(20_000)
    insurer = insurer_ctx.new_page()
    insurer.goto(f"{app_url}/freigabe?t={token}")
    settle(insurer)
    expect(insurer.get_by_text("gutachten-teilung.pdf").first).to_be_visible()
    expect(insurer.get_by_text(number)).to_have_count(0)
    with insurer.expect_download() as info:
        insurer.get_by_role("button", name=t("share.download")).click()
    download = info.value
    assert download.suggested_filename == "gutachten-teilung.pdf"
    assert Path(download.path()).read_bytes() == REPORT

    engine = make_engine(app_data[1])
    try:
        with unit_of_work(engine) as s:
            count = s.scalar(select(ShareLink.download_count).where(ShareLink.token_hash == token_hash(token)))
        assert count == 1
    finally:
        engine.dispose()

    clerk.reload()
    settle(clerk)
    clerk.get_by_role("tab", name=t("case.tab_documents")).click()
    expect(clerk.get_by_text("1 Abruf(e)", exact=False).first).to_be_visible()
    clerk.get_by_role("button", name=t("share.revoke")).click()
    expect(clerk.get_by_text(t("share.revoked")).first).to_be_visible()

    insurer.reload()
    settle(insurer)
    expect(insurer.get_by_text(t("share.unavailable")).first).to_be_visible()
    expect(insurer.get_by_role("button", name=t("share.download"))).to_have_count(0)
    expect(insurer.get_by_text("gutachten-teilung.pdf")).to_have_count(0)
    insurer_ctx.close()
    office.close()
