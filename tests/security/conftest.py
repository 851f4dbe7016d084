"""The browser fixtures of the e2e tests (Chromium, a fresh context per test) for test_browser.py."""

from tests.e2e.conftest import browser, context  # noqa: F401 - re-exported fixtures
