"""A client opens the status link from the mail the SMTP server received, uploads the requested document,
and the clerk sees it on the case page."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.cases import NewCase, create_case
from core.enums import DamageType, DocumentKind, Role
from core.i18n import label, t
from core.mailer import SmtpTransport
from core.permissions import SYSTEM
from core.settings import Settings
from core.tasks import create_task
from core.users import create_user
from core.worker import run_worker
from db.engine import make_engine, unit_of_work
from db.models import User
from tests.e2e.browser import login_with_new_totp, settle
from tests.e2e.conftest import PASSWORD
from tests.mailserver import SmtpServer
from tests.unit.test_upload_validation import make_pdf

pytestmark = pytest.mark.e2e


def test_client_uploads_the_requested_document_from_the_mailed_link(app_url, app_data, browser, tmp_path):
    data_dir, url = app_data
    server = SmtpServer()
    server.start()
    engine = make_engine(url)
    try:
        with unit_of_work(engine) as s:
            case = create_case(s, actor=SYSTEM, data=NewCase(
                damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name="Linkmann",
                client_first_name="Lena", client_email="lena@example.org", postal_code="10115", plate="B-LL 77"))
            create_task(s, actor=SYSTEM, case=case, title="Fahrzeugschein fehlt",  # mails the upload link
                        kind=f"document:{DocumentKind.REGISTRATION.value}")
            number = case.number
            if s.scalar(select(User).where(User.username == "e2e_clerk2")) is None:
                create_user(s, actor=SYSTEM, username="e2e_clerk2", display_name="E2E Clerk 2", email="",
                            role=Role.STAFF, password=PASSWORD)
        settings = Settings.load(env={
            "DATABASE_URL": url, "DATA_DIR": str(data_dir), "APP_MODE": "demo", "BASE_URL": app_url,
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(server.port), "SMTP_SECURITY": "none",
        })
        run_worker(engine, settings, once=True, transport=SmtpTransport(settings.smtp))
        [(_, mail)] = [(to, m) for to, m in server.received if "lena@example.org" in to]
    finally:
        server.stop()
        engine.dispose()
    link = re.search(r"http://\S+/status\?t=\S+", mail.get_content()).group(0)

    scan = tmp_path / "fahrzeugschein.pdf"
    scan.write_bytes(make_pdf("Zulassungsbescheinigung Teil I", "B-LL 77"))
    client = browser.new_context(viewport={"width": 390, "height": 844}, locale="de-DE", is_mobile=True)
    client.set_default_timeout(20_000)
    page = client.new_page()
    page.goto(link)
    settle(page)
    expect(page.get_by_text(number).first).to_be_visible()
    expect(page.get_by_text(label(DocumentKind.REGISTRATION)).first).to_be_visible()
    done = page.get_by_text(t("client.uploaded", name=label(DocumentKind.REGISTRATION))).first
    page.locator("input[type=file]").first.set_input_files(str(scan))
    expect(page.get_by_text("fahrzeugschein.pdf").first).to_be_visible()
    page.get_by_role("button", name=t("client.upload")).first.click()
    expect(done).to_be_visible()
    client.close()

    office = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    office.set_default_timeout(20_000)
    clerk = office.new_page()
    login_with_new_totp(clerk, app_url, "e2e_clerk2", PASSWORD)
    clerk.goto(f"{app_url}/case?nr={number}")
    settle(clerk)
    clerk.get_by_role("tab", name=t("case.tab_documents")).click()
    expect(clerk.get_by_text("fahrzeugschein.pdf").first).to_be_visible()
    office.close()
