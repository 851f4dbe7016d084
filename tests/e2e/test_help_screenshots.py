"""The screenshots of the help (Hilfe), taken in Chromium from the demo data: each demo user opens the pages its
help refers to. Each shot must show the page's heading and be a real PNG; the shots together are exactly the
images the help refers to.

By default they go to a temporary directory. `SP_UPDATE_HELP_SCREENSHOTS=1` writes them to docs/help/, which is
committed so the help shows them on a fresh machine:

    SP_UPDATE_HELP_SCREENSHOTS=1 python -m pytest -p no:cacheprovider tests/e2e/test_help_screenshots.py
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core import help as guide_book
from core.assignment import accept_order, override_assignment
from core.auth import actor_for
from core.cases import change_status, get_case
from core.client_links import LinkPurpose, case_fingerprint, make_token
from core.correspondence import record_insurer_query
from core.documents import add_document
from core.enums import CaseStatus, DocumentKind, NoteVisibility
from core.i18n import t
from core.inbound_mail import process_message
from core.intake import IntakeForm, take_in_case
from core.notes import add_note
from core.permissions import SYSTEM
from core.settings import Settings
from core.settlements import create_settlements, last_month
from core.tasks import request_document
from db.engine import make_engine, unit_of_work
from db.migrate import upgrade_to_head
from db.models import Case, User
from db.seed import seed_demo
from tests.e2e.browser import login, login_with_new_totp, settle, wait_for_login_cookie
from tests.e2e.conftest import PASSWORD, running_app
from tests.unit.test_upload_validation import make_pdf

pytestmark = pytest.mark.e2e

UPDATE = os.environ.get("SP_UPDATE_HELP_SCREENSHOTS") == "1"
VIEWPORT = {"width": 1280, "height": 800}
WIDTH = 1000  # stored width: small files, still readable


@dataclass(frozen=True)
class Shot:
    file: str
    path: str  # address below the base URL; {review}, {query}, {new_order}, {order}, {status}, {survey} filled in
    heading: str  # the page heading the shot must show
    tab: str = ""  # a tab of the page to open first
    click: str = ""  # a button or expander to open first (e.g. a popover)
    scroll_to: str = ""  # a text to scroll into view before the shot


def case_heading(key: str) -> str:
    return t("case.title", number="{" + key + "}")


SHOTS: dict[str | None, list[Shot]] = {
    "staff": [
        Shot("staff-start.png", "", t("home.title")),
        Shot("staff-intake.png", "intake", t("intake.title")),
        Shot("staff-board.png", "board", t("board.title")),
        Shot("staff-case.png", "case?nr={review}", case_heading("review")),
        Shot("staff-case-documents.png", "case?nr={review}", case_heading("review"), tab=t("case.tab_documents")),
        Shot("staff-case-tasks.png", "case?nr={review}", case_heading("review"), tab=t("case.tab_tasks")),
        Shot("staff-case-insurer.png", "case?nr={query}", case_heading("query"), tab=t("case.tab_insurer")),
        Shot("staff-inbox.png", "posteingang", t("inmail.title")),
        Shot("staff-settlements.png", "settlements", t("settle.title")),
        Shot("account.png", "account", t("account.title")),
    ],
    "lawyer": [
        Shot("lawyer-claim-letter.png", "case?nr={review}", case_heading("review")),
        Shot("lawyer-notes.png", "case?nr={review}", case_heading("review"), tab=t("case.tab_notes")),
        Shot("lawyer-hold.png", "case?nr={review}", case_heading("review"), click=t("hold.title_off"),
             scroll_to=t("hold.set")),
    ],
    "manager": [
        Shot("manager-start.png", "", t("home.title")),
        Shot("manager-kpis.png", "kpis", t("kpi.title")),
        Shot("manager-board.png", "board", t("board.title"), scroll_to=t("board.export_csv")),
        Shot("manager-report.png", "kpis", t("kpi.title"), click=t("kpi.report")),
    ],
    "admin": [
        Shot("admin-start.png", "", t("home.title")),
        Shot("admin-users.png", "users", t("users.title")),
        Shot("admin-partners.png", "partners", t("padmin.title")),
        Shot("admin-templates.png", "templates", t("tpl.title")),
        Shot("admin-outbox.png", "outbox", t("outbox.title")),
        Shot("admin-ops.png", "betrieb", t("ops.title")),
        Shot("admin-subjects.png", "betroffenenrechte", t("subject.title")),
        Shot("admin-chronicles.png", "chronicles", t("chron.page_title")),
        Shot("admin-import.png", "import", t("import.title")),
    ],
    "glas1": [
        Shot("partner-orders.png", "orders", t("orders.title")),
        Shot("partner-order.png", "case?nr={new_order}", case_heading("new_order")),
        Shot("partner-order-tab.png", "case?nr={order}", case_heading("order"), tab=t("order.title")),
        Shot("partner-documents.png", "case?nr={order}", case_heading("order"), tab=t("case.tab_documents")),
        Shot("partner-settlements.png", "my-settlements", t("settle.my_title")),
        Shot("partner-profile.png", "profile", t("profile.title")),
    ],
    "broker1": [
        Shot("broker-start.png", "", t("home.title")),
        Shot("broker-submit.png", "submit", t("intake.broker_title")),
        Shot("broker-case.png", "case?nr={review}", case_heading("review"), tab=t("case.tab_documents")),
        Shot("broker-api-keys.png", "api-schluessel", t("apikeys.title")),
    ],
    None: [  # nobody logged in
        Shot("visitor-login.png", "", t("app.title")),
        Shot("visitor-apply.png", "partner-werden", t("apply.title")),
        Shot("visitor-help.png", "hilfe", t("help.title")),
        Shot("client-status.png", "status?t={status}", t("client.title")),
        Shot("client-survey.png", "umfrage?t={survey}", t("survey.title")),
    ],
}
TOTP_USERS = {"staff", "lawyer", "manager", "admin"}


def intake(s, actor, settings: Settings, *, last_name: str, plate: str, photo: bool = True) -> str:
    """A glass case of broker1's agency, taken in by the clerk as on the intake page."""
    broker_id = s.scalar(select(User.broker_id).where(User.username == "broker1"))
    result = take_in_case(s, actor=actor, settings=settings, form=IntakeForm(
        damage_type="glass", insurer="HUK-COBURG", client_last_name=last_name, client_first_name="Lena",
        client_postal_code="10115", client_city="Berlin", client_email=f"{last_name.lower()}@example.org",
        plate=plate, incident_date=date.today() - timedelta(days=2), amount_claimed="612,40", broker_id=broker_id,
        incident_description="Steinschlag auf der Autobahn, Riss in der Frontscheibe.",
    ))
    if photo:
        add_document(s, actor=actor, settings=settings, number=result.number, kind=DocumentKind.PHOTO,
                     filename="frontscheibe.pdf", data=make_pdf("Foto Frontscheibe", plate))
    return result.number


def insurer_mail(subject: str, text: str, *, message_id: str) -> bytes:
    """A letter from HUK-COBURG's claims address with a PDF attached, as the mailbox delivers it."""
    mail = EmailMessage()
    mail["From"] = "HUK-COBURG Schaden <schaden@huk.example>"
    mail["To"] = "posteingang@schadenportal.example"
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{message_id}@huk.example>"
    mail.set_content(text)
    mail.add_attachment(make_pdf(subject, text), maintype="application", subtype="pdf", filename="Schreiben.pdf")
    return mail.as_bytes()


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> tuple[str, dict[str, str]]:
    """A running app over fresh demo data plus the cases the help shows; yields (base URL, address values)."""
    data = tmp_path_factory.mktemp("help-shots")
    url = f"sqlite:///{data / 'help.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    seed_demo(engine, cases=60, seed=7, password=PASSWORD, today=date.today())
    settings = Settings.load(env={"DATABASE_URL": url, "DATA_DIR": str(data), "APP_MODE": "demo"},
                             secrets_path=data / "none.toml")
    with unit_of_work(engine) as s:
        users = {u.username: u for u in s.scalars(select(User))}
        clerk, lawyer, glas1 = actor_for(users["staff"]), actor_for(users["lawyer"]), actor_for(users["glas1"])
        review = intake(s, clerk, settings, last_name="Beispiel", plate="B-SP 2026")
        change_status(s, actor=clerk, number=review, to=CaseStatus.REVIEW)
        request_document(s, actor=clerk, number=review, kind=DocumentKind.REGISTRATION)
        add_note(s, actor=clerk, number=review, visibility=NoteVisibility.INTERNAL,
                 body="Kundin hat angerufen, Termin am Donnerstag passt.")
        add_note(s, actor=lawyer, number=review, visibility=NoteVisibility.LEGAL,
                 body="Haftung unstrittig; bei Kürzung über 10 % Widerspruch einlegen.")
        query = intake(s, clerk, settings, last_name="Muster", plate="B-QR 404")
        for to in (CaseStatus.REVIEW, CaseStatus.CLAIM_SENT):
            change_status(s, actor=clerk, number=query, to=to)
        record_insurer_query(s, actor=clerk, number=query, subject="Kostenvoranschlag der Werkstatt fehlt")
        orders = []
        for last_name, plate in (("Neumann", "B-NA 11"), ("Sommer", "B-SO 22")):
            number = intake(s, clerk, settings, last_name=last_name, plate=plate, photo=False)
            if get_case(s, number=number).partner_id != glas1.partner_id:
                override_assignment(s, actor=clerk, number=number, partner_id=glas1.partner_id,
                                    reason="Kunde wünscht diesen Betrieb")
            orders.append(number)
        accept_order(s, actor=glas1, number=orders[1])
        closed = intake(s, clerk, settings, last_name="Zufrieden", plate="B-ZU 33", photo=False)
        for to in (CaseStatus.REVIEW, CaseStatus.CLAIM_SENT):
            change_status(s, actor=clerk, number=closed, to=to)
        change_status(s, actor=clerk, number=closed, to=CaseStatus.PAID, amount_paid_cents=61_240)
        change_status(s, actor=clerk, number=closed, to=CaseStatus.CLOSED)
        create_settlements(s, actor=SYSTEM, month=last_month())
        process_message(s, settings=settings, raw=insurer_mail(  # filed by itself: one number, known sender
            f"Eingangsbestätigung {query}", "Ihre Forderung ist eingegangen und wird geprüft.", message_id="help-1"))
        process_message(s, settings=settings, raw=insurer_mail(  # held: no number
            "Rückfrage zu Ihrem Schreiben vom Montag", "Bitte senden Sie uns den Kostenvoranschlag der Werkstatt.",
            message_id="help-2"))

        def token(number: str, purpose: LinkPurpose) -> str:
            case = s.scalar(select(Case).where(Case.number == number))
            return make_token(settings, case_id=case.id, fingerprint=case_fingerprint(case), purpose=purpose)

        values = {"review": review, "query": query, "new_order": orders[0], "order": orders[1],
                  "status": token(review, LinkPurpose.STATUS), "survey": token(closed, LinkPurpose.SURVEY)}
    engine.dispose()
    with running_app(data, url) as base:
        yield base, values


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    if UPDATE:
        guide_book.HELP_DIR.mkdir(parents=True, exist_ok=True)
        return guide_book.HELP_DIR
    return tmp_path_factory.mktemp("help-png")


def save_png(raw: bytes, target) -> None:
    """Downscaled to WIDTH and reduced to 256 colours (screens have few), so the committed files stay small."""
    img = Image.open(io.BytesIO(raw)).convert("RGB")
    img = img.resize((WIDTH, round(img.height * WIDTH / img.width)), Image.Resampling.LANCZOS)
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        target, "PNG", optimize=True)


def take(page: Page, base: str, shot: Shot, values: dict[str, str], target) -> None:
    page.goto(f"{base}/{shot.path.format(**values)}")
    settle(page)
    expect(page.get_by_role("heading", name=shot.heading.format(**values)).first).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)  # Streamlit's dialog for an address it lacks
    expect(page.get_by_text(re.compile(r"^View \d+ more$"))).to_have_count(0)  # a collapsed, English menu
    if shot.tab:
        page.get_by_role("tab", name=shot.tab, exact=True).click()
    if shot.click:
        page.get_by_text(shot.click, exact=True).first.click()
    if shot.scroll_to:
        page.get_by_text(shot.scroll_to).first.scroll_into_view_if_needed()
    if "kpis" in shot.path:  # the charts draw after the script run
        expect(page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot").first).to_be_visible()
    page.wait_for_timeout(500)  # fonts, images and the tab/expander animation
    save_png(page.screenshot(), target)


def test_the_screenshots_are_exactly_the_images_the_help_shows():
    assert {shot.file for shots in SHOTS.values() for shot in shots} == guide_book.referenced_images()


@pytest.mark.parametrize("username", list(SHOTS), ids=lambda u: u or "visitor")
def test_each_help_screenshot_shows_its_page(username, scene, browser, out_dir):
    base, values = scene
    ctx = browser.new_context(viewport=VIEWPORT, locale="de-DE")
    ctx.set_default_timeout(30_000)
    page = ctx.new_page()
    try:
        if username in TOTP_USERS:
            login_with_new_totp(page, base, username, PASSWORD)
        elif username is not None:
            login(page, base, username, PASSWORD)
            wait_for_login_cookie(page)
        for shot in SHOTS[username]:
            take(page, base, shot, values, out_dir / shot.file)
    finally:
        ctx.close()
    for shot in SHOTS[username]:
        with Image.open(out_dir / shot.file) as img:
            assert (img.format, img.width) == ("PNG", WIDTH), shot.file
