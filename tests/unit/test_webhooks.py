"""Webhooks without a database: the address rule, URL checks, signature, body, backoff, labels, the setting."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet

from core.errors import ConfigurationError, ValidationError
from core.i18n import t
from core.jobs import backoff
from core.settings import Settings
from core.webhook_delivery import body_of, sign
from core.webhooks import (
    EVENT_TYPES,
    TEST_EVENT,
    check_url,
    event_label,
    is_forbidden_address,
)

PRODUCTION = {"APP_MODE": "production", "COOKIE_KEY": "k" * 48, "ENCRYPTION_KEY": Fernet.generate_key().decode()}


def load(tmp_path, env) -> Settings:
    return Settings.load(env={"DATA_DIR": str(tmp_path), **env}, secrets_path=tmp_path / "none.toml")


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
                                     "224.0.0.1", "240.0.0.1", "0.0.0.0", "100.64.0.1", "::1", "fe80::1", "fc00::1",
                                     "ff02::1", "::", "::ffff:127.0.0.1", "::ffff:10.0.0.1"])
def test_private_and_special_addresses_are_forbidden(address):
    assert is_forbidden_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert not is_forbidden_address(address)


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://10.0.0.1/", "http://169.254.169.254/", "http://[::1]/",
                                 "http://localhost/"])
def test_private_urls_are_refused_when_the_setting_is_false(tmp_path, url):
    strict = load(tmp_path, {"WEBHOOKS_ALLOW_PRIVATE": "false"})
    with pytest.raises(ValidationError) as caught:
        check_url(url, settings=strict)
    assert str(caught.value) == t("webhooks.private_address")
    assert check_url(url, settings=load(tmp_path, {"WEBHOOKS_ALLOW_PRIVATE": "true"})) == url


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "http://user:pw@127.0.0.1/", "http://token@127.0.0.1/",
                                 "127.0.0.1/hook", "http:///hook", "http://127.0.0.1:99999/", "http://127.0.0.1/ a",
                                 "http://127.0.0.1/#frag", "javascript:alert(1)", ""])
def test_malformed_urls_and_urls_with_credentials_are_refused(tmp_path, url):
    with pytest.raises(ValidationError) as caught:
        check_url(url, settings=load(tmp_path, {}))
    assert str(caught.value) == t("webhooks.bad_url")


def test_the_signature_is_the_hex_hmac_sha256_of_the_body():
    body = body_of({"event": "case.created", "data": {"ort": "Köln"}})
    assert sign("geheim-geheim-geheim", body) == "sha256=" + hmac.new(b"geheim-geheim-geheim", body,
                                                                      hashlib.sha256).hexdigest()
    assert json.loads(body) == {"event": "case.created", "data": {"ort": "Köln"}}


def test_the_body_does_not_depend_on_key_order():
    assert body_of({"a": 1, "b": 2}) == body_of({"b": 2, "a": 1})


def test_backoff_doubles_from_one_minute_up_to_six_hours():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(9) == timedelta(minutes=256) and backoff(10) == backoff(50) == timedelta(hours=6)


def test_every_event_has_a_german_label():
    assert all(event_label(e) for e in (*EVENT_TYPES, TEST_EVENT))
    assert {"case.created", "case.status_changed", "order.assigned", "document.uploaded", "invoice.submitted",
            "payment.recorded"} <= set(EVENT_TYPES)


def test_private_addresses_are_allowed_in_demo_and_refused_in_production_by_default(tmp_path):
    assert load(tmp_path, {}).webhooks_allow_private
    assert not load(tmp_path, PRODUCTION).webhooks_allow_private
    assert load(tmp_path, {**PRODUCTION, "WEBHOOKS_ALLOW_PRIVATE": "true"}).webhooks_allow_private
    assert not load(tmp_path, {"WEBHOOKS_ALLOW_PRIVATE": "0"}).webhooks_allow_private


def test_a_bad_flag_value_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="WEBHOOKS_ALLOW_PRIVATE"):
        load(tmp_path, {"WEBHOOKS_ALLOW_PRIVATE": "vielleicht"})
