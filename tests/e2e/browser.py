"""Helpers for driving the app in Chromium."""

from playwright.sync_api import Page, expect

from core.i18n import t


def settle(page: Page) -> None:
    """Wait until the page has loaded and its script run has finished (Streamlit marks it on the app root). The
    first run after the server started imports everything and may take long on a busy machine."""
    page.wait_for_load_state("networkidle")
    expect(page.locator("[data-testid='stApp'][data-test-script-state='notRunning']")).to_have_count(
        1, timeout=60_000)


def login(page: Page, base: str, username: str, password: str) -> None:
    """Open the start page, fill the login form and send it."""
    page.goto(base)
    settle(page)
    user = page.get_by_label(t("login.username"))
    user.fill(username)
    user.press("Tab")
    secret = page.get_by_label(t("login.password"), exact=True)
    secret.fill(password)
    secret.press("Tab")
    expect(user).to_have_value(username)
    page.get_by_role("button", name=t("login.submit")).click()
    settle(page)


def enter_totp(page: Page, code: str) -> None:
    field = page.get_by_label(t("totp.code"))
    field.fill(code)
    field.press("Tab")
    page.get_by_role("button", name=t("totp.submit")).click()


def logout(page: Page) -> None:
    page.get_by_role("button", name=t("app.logout")).click()
    expect(page.get_by_label(t("login.username")).first).to_be_visible()


def login_with_new_totp(page: Page, base: str, username: str, password: str) -> None:
    """First login of a back-office user: enrol TOTP from the secret shown on the page."""
    import pyotp

    login(page, base, username, password)
    expect(page.get_by_text(t("totp.enrol_intro")).first).to_be_visible()
    secret = page.locator("[data-testid='stCode'] code").inner_text().strip()
    enter_totp(page, pyotp.TOTP(secret).now())
    expect(page.get_by_role("button", name=t("app.logout"))).to_be_visible()
    wait_for_login_cookie(page)


def wait_for_login_cookie(page: Page) -> None:
    """The login cookie is written on the run after the login; wait for it before opening other URLs."""
    page.wait_for_function("document.cookie.includes('schadenportal_auth')")


def choose(page: Page, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()
