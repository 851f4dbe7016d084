"""The simulated users: asyncio Playwright pages (one Chromium, one context per user) doing real work through
nginx, timing every action. An action cut off by a fault (replica gone, database restarting) is tried again
once after a reload, as a user would; only an action that fails again, or a traceback on the page, counts as a
user-visible error. A repeated intake relies on the app's duplicate warning (same plate and incident date):
the clerk then takes the existing case instead of saving a second one."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from playwright.async_api import Page, expect
from sqlalchemy import select

from core.enums import CaseStatus, DamageType
from core.i18n import label, t
from db.engine import read_only
from db.models import Assignment, Case, Partner, User
from tests.load.stack import INSURER, PASSWORD, Login

NUMBER = re.compile(r"SP-\d{4}-\d{6}")
ACTION_TIMEOUT = 90_000
STEP_TIMEOUT = 60_000  # one click, one field, one expectation: a loaded 2-core machine needs far more than 5 s
expect.set_options(timeout=STEP_TIMEOUT)


@dataclass
class Stats:
    """Per action: durations of successes; user-visible errors; actions repeated after a fault."""

    durations: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (user, action, message)
    retries: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    db_notices: int = 0  # t("db.unavailable") shown (then the repeat worked)
    locked_seen: int = 0  # "database is locked" on a page (SQLite)
    intakes: dict[str, str] = field(default_factory=dict)  # marker -> case number
    reused_by_duplicate_warning: int = 0
    first_fault_at: float | None = None  # time.monotonic() of the first fault
    last_ok: dict[str, float] = field(default_factory=dict)  # user -> when its last action succeeded


@dataclass
class Ctx:
    base: str
    stats: Stats
    stop_at: float
    engine: object  # for picking a partner's next open order (what its order list shows)
    files: Path
    run_id: str


async def settle(page: Page) -> None:
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("[data-testid='stApp'][data-test-script-state='notRunning']")).to_have_count(
        1, timeout=ACTION_TIMEOUT)


def watch_connection(page: Page) -> None:
    """Remember when the page's Streamlit websocket last closed (its replica died, or a reload)."""
    def on_socket(ws) -> None:
        ws.on("close", lambda _ws: setattr(page, "_sp_closed_at", time.monotonic()))
    page.on("websocket", on_socket)


async def outcome(page: Page, locator, started: float) -> None:
    """Wait for the answer of a submitted action; fail at once when the connection that sent it was lost (the
    tab reconnects to another replica with an empty form: the user sees no answer and sends it again)."""
    deadline = time.monotonic() + ACTION_TIMEOUT / 1000
    while time.monotonic() < deadline:
        if await locator.count() and await locator.first.is_visible():
            return
        if getattr(page, "_sp_closed_at", 0) > started:
            raise RuntimeError("connection to the replica lost")
        await asyncio.sleep(0.3)
    raise TimeoutError(f"no answer within {ACTION_TIMEOUT / 1000:.0f} s")


async def goto(page: Page, url: str) -> None:
    await page.goto(url, timeout=ACTION_TIMEOUT)
    await settle(page)


async def login(page: Page, ctx: Ctx, user: Login) -> None:
    await goto(page, ctx.base)
    name = page.get_by_label(t("login.username"))
    await name.fill(user.username)
    await name.press("Tab")
    secret = page.get_by_label(t("login.password"), exact=True)
    await secret.fill(PASSWORD)
    await secret.press("Tab")
    await expect(name).to_have_value(user.username)
    await page.get_by_role("button", name=t("login.submit")).click()
    await settle(page)
    if user.totp_secret:
        code = page.get_by_label(t("totp.code"))
        await code.fill(user.code())
        await code.press("Tab")
        await page.get_by_role("button", name=t("totp.submit")).click()
    await expect(page.get_by_role("button", name=t("app.logout"))).to_be_visible(timeout=ACTION_TIMEOUT)
    await page.wait_for_function("document.cookie.includes('schadenportal_auth')", timeout=ACTION_TIMEOUT)


async def choose(page: Page, name: str, option: str) -> None:
    await page.get_by_role("combobox", name=name).click()
    await page.get_by_role("option", name=option, exact=True).click()


async def _traceback_shown(page: Page) -> bool:
    return await page.locator("[data-testid='stException']").count() > 0


async def timed(page: Page, ctx: Ctx, who: str, name: str, action) -> object | None:
    """Run `action(page, attempt)`; on failure try once more (the action reloads its page). Times the successful
    attempt; returns the action's result (True for none), or None when it failed twice."""
    for attempt in (1, 2):
        started = time.perf_counter()
        try:
            result = await action(page, attempt)
            if await _traceback_shown(page):
                raise RuntimeError("traceback on the page")
        except Exception as exc:  # noqa: BLE001  (any failure of the browser step is a failed action)
            message = str(exc).splitlines()[0][:200]
            with contextlib.suppress(Exception):  # the page itself may be gone
                if await page.get_by_text(t("db.unavailable")).count():
                    ctx.stats.db_notices += 1
                if await page.get_by_text("database is locked").count():
                    ctx.stats.locked_seen += 1
            if attempt == 2:
                ctx.stats.errors.append((who, name, message))
                return None
            ctx.stats.retries[name] += 1
            await asyncio.sleep(2)
            continue
        ctx.stats.durations[name].append(time.perf_counter() - started)
        ctx.stats.last_ok[who] = time.monotonic()
        return True if result is None else result
    return None


# --- clerks --------------------------------------------------------------------------------------------------

def intake_fields(ctx: Ctx, who: int, n: int) -> dict[str, str]:
    letters = chr(ord("A") + who // 26 % 26) + chr(ord("A") + who % 26)
    marker = f"LAST-{ctx.run_id}-{who}-{n}"
    return {"marker": marker, "plate": f"L-{letters} {n % 9999 + 1}",
            "email": f"last.{ctx.run_id}.{who}.{n}@kunde.example".lower()}


async def clerk(page: Page, ctx: Ctx, user: Login, who: int) -> None:
    n = 0
    while time.monotonic() < ctx.stop_at:
        n += 1
        f = intake_fields(ctx, who, n)

        async def intake(page: Page, attempt: int, f=f) -> str:
            await goto(page, f"{ctx.base}/intake")
            await choose(page, t("field.damage_type"), label(DamageType.GLASS))
            await choose(page, t("field.insurer"), INSURER)
            await page.get_by_role("spinbutton", name=f"day, {t('field.incident_date')}").click()
            await page.keyboard.type(date.today().strftime("%d%m%Y"))
            for name, value in ((t("field.plate"), f["plate"]), (t("intake.first_name"), "Lasse"),
                                (t("intake.last_name_label"), "Lastprobe"), (t("intake.postal_code"), "10115"),
                                (t("intake.email"), f["email"]), (t("field.description"), f["marker"])):
                box = page.get_by_label(name, exact=True)
                await box.fill(value)
                await box.press("Tab")
            sent = time.monotonic()
            await page.get_by_role("button", name=t("intake.save")).click()
            saved = page.get_by_text(re.compile(r"Fall SP-\d{4}-\d{6} angelegt"))
            duplicate = page.get_by_text(t("intake.duplicates"))
            await outcome(page, saved.or_(duplicate), sent)
            if await duplicate.count():
                if attempt == 1:
                    raise RuntimeError(f"duplicate warning for a new intake {f['marker']}")
                # the first attempt went through before the fault: take that case, do not save a second
                ctx.stats.reused_by_duplicate_warning += 1
                link = page.locator("a[href*='nr=SP-']").first
                return NUMBER.search(await link.get_attribute("href")).group(0)
            return NUMBER.search(await saved.first.inner_text()).group(0)

        number = await timed(page, ctx, user.username, "intake", intake)
        if number is None:
            continue
        ctx.stats.intakes[f["marker"]] = number
        if time.monotonic() >= ctx.stop_at:
            break

        async def review(page: Page, attempt: int, number=number) -> None:
            await goto(page, f"{ctx.base}/case?nr={number}")
            review_label = label(CaseStatus.REVIEW)
            box = page.get_by_test_id("stExpander").filter(has_text=t("case.change_to", status=review_label))
            if attempt == 2 and not await box.count():  # the first attempt went through
                await expect(page.get_by_text(re.compile(rf"{t('case.status')}:\s*{review_label}")).first
                             ).to_be_visible()
                return
            await box.get_by_text(t("case.change_to", status=review_label)).click()
            sent = time.monotonic()
            await box.get_by_role("button", name=review_label).click()
            await outcome(page, page.get_by_text(t("case.status_changed", status=review_label)), sent)

        await timed(page, ctx, user.username, "status change", review)
        await asyncio.sleep(0.5)


# --- partners ------------------------------------------------------------------------------------------------

def next_open_order(ctx: Ctx, username: str) -> str | None:
    with read_only(ctx.engine) as s:
        partner_id = s.scalar(select(User.partner_id).where(User.username == username))
        return s.scalar(select(Case.number).join(Assignment, Assignment.case_id == Case.id)
                        .join(Partner, Partner.id == Assignment.partner_id)
                        .where(Assignment.partner_id == partner_id, Assignment.accepted_at.is_(None),
                               Assignment.declined_at.is_(None)).order_by(Case.id).limit(1))


async def partner(page: Page, ctx: Ctx, user: Login, who: int) -> None:
    invoice, signed = ctx.files / "Rechnung.pdf", ctx.files / "Abtretung.pdf"
    n = 0
    while time.monotonic() < ctx.stop_at:
        number = await asyncio.to_thread(next_open_order, ctx, user.username)
        if number is None:
            async def orders(page: Page, attempt: int) -> None:
                await goto(page, f"{ctx.base}/orders")
                await expect(page.get_by_role("heading", name=t("orders.title"))).to_be_visible()
            await timed(page, ctx, user.username, "order list", orders)
            await asyncio.sleep(2)
            continue
        n += 1

        async def accept(page: Page, attempt: int, number=number) -> None:
            await goto(page, f"{ctx.base}/case?nr={number}")
            if attempt == 2 and await page.get_by_text(t("assign.is_accepted")).count():
                return
            sent = time.monotonic()
            await page.get_by_role("button", name=t("assign.accept")).click()
            await outcome(page, page.get_by_text(t("assign.accepted")), sent)

        if await timed(page, ctx, user.username, "accept order", accept) is None:
            continue
        invoice_number = f"R-{who}-{n}"

        async def submit_invoice(page: Page, attempt: int, number=number, invoice_number=invoice_number) -> None:
            if attempt == 2:
                await goto(page, f"{ctx.base}/case?nr={number}")
            await page.get_by_role("tab", name=t("order.title")).click()
            if attempt == 2 and await page.get_by_text(invoice_number).count():
                return  # the first attempt went through
            for name, value in ((t("invoice.number"), invoice_number), (t("invoice.net"), "400,00"),
                                (t("invoice.vat"), "76,00"), (t("invoice.gross"), "476,00"),
                                (t("invoice.deductible"), "150,00")):
                box = page.get_by_label(name, exact=True)
                await box.fill(value)
                await box.press("Tab")
            uploader = page.locator("[data-testid=stFileUploader]")
            await uploader.filter(has_text=t("invoice.file")).locator("input[type=file]").set_input_files(str(invoice))
            await uploader.filter(has_text=t("invoice.companion.assignment")).locator(
                "input[type=file]").set_input_files(str(signed))
            await expect(page.get_by_text("Abtretung.pdf").first).to_be_visible()
            sent = time.monotonic()
            await page.get_by_role("button", name=t("invoice.submit")).click()
            await outcome(page, page.get_by_text(t("invoice.submitted")), sent)

        await timed(page, ctx, user.username, "invoice upload", submit_invoice)
        await asyncio.sleep(0.5)


# --- manager -------------------------------------------------------------------------------------------------

async def manager(page: Page, ctx: Ctx, user: Login, who: int) -> None:
    while time.monotonic() < ctx.stop_at:
        async def kpis(page: Page, attempt: int) -> None:
            await goto(page, f"{ctx.base}/kpis")
            await expect(page.get_by_role("heading", name=t("kpi.title"))).to_be_visible()
        await timed(page, ctx, user.username, "KPI page", kpis)
        await asyncio.sleep(3)
