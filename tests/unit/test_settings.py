"""Settings: demo defaults, production refuses demo or weak keys, secrets file, env precedence."""

import pytest
from cryptography.fernet import Fernet

from core.errors import ConfigurationError
from core.settings import DEMO_COOKIE_KEY, Settings

STRONG = "k" * 48


def load(tmp_path, env, secrets=""):
    path = tmp_path / "secrets.toml"
    path.write_text(secrets)
    return Settings.load(env=env, secrets_path=path)


def test_demo_is_the_default(tmp_path):
    s = load(tmp_path, {"DATA_DIR": str(tmp_path)})
    assert s.demo
    assert s.database_url == f"sqlite:///{tmp_path / 'schadenportal.db'}"
    assert s.cookie_key == DEMO_COOKIE_KEY


def test_production_refuses_demo_cookie_key(tmp_path):
    with pytest.raises(ConfigurationError, match="COOKIE_KEY"):
        load(tmp_path, {"APP_MODE": "production", "COOKIE_KEY": DEMO_COOKIE_KEY,
                        "ENCRYPTION_KEY": Fernet.generate_key().decode()})


def test_production_refuses_missing_cookie_key(tmp_path):
    with pytest.raises(ConfigurationError, match="COOKIE_KEY"):
        load(tmp_path, {"APP_MODE": "production", "ENCRYPTION_KEY": Fernet.generate_key().decode()})


def test_production_refuses_short_cookie_key(tmp_path):
    with pytest.raises(ConfigurationError, match="32 bytes"):
        load(tmp_path, {"APP_MODE": "production", "COOKIE_KEY": "short",
                        "ENCRYPTION_KEY": Fernet.generate_key().decode()})


def test_production_refuses_demo_encryption_key(tmp_path):
    with pytest.raises(ConfigurationError, match="ENCRYPTION_KEY"):
        load(tmp_path, {"APP_MODE": "production", "COOKIE_KEY": STRONG})


def test_production_refuses_a_non_fernet_encryption_key(tmp_path):
    with pytest.raises(ConfigurationError, match="Fernet"):
        load(tmp_path, {"APP_MODE": "production", "COOKIE_KEY": STRONG, "ENCRYPTION_KEY": "abc"})


def test_production_accepts_strong_keys(tmp_path):
    s = load(tmp_path, {"APP_MODE": "production", "COOKIE_KEY": STRONG, "ENCRYPTION_KEY": Fernet.generate_key().decode()})
    assert not s.demo


def test_secrets_file_is_read_and_env_wins(tmp_path):
    s = load(tmp_path, {"LOCKOUT_MINUTES": "7"}, 'LOCKOUT_MINUTES = 99\nSESSION_IDLE_MINUTES = 11\n[smtp]\nhost = "mail.local"\n')
    assert s.lockout_minutes == 7
    assert s.session_idle_minutes == 11
    assert s.smtp.host == "mail.local"


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(ConfigurationError):
        load(tmp_path, {"APP_MODE": "staging"})


def test_bad_number_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="LOCKOUT_ATTEMPTS"):
        load(tmp_path, {"LOCKOUT_ATTEMPTS": "five"})


def test_secrets_do_not_show_in_repr(tmp_path):
    s = load(tmp_path, {})
    assert DEMO_COOKIE_KEY not in repr(s)


def test_the_client_address_comes_from_x_real_ip_only_behind_a_trusted_proxy(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from core.ui import auth, resources

    context = SimpleNamespace(headers={"X-Real-IP": "203.0.113.7"}, ip_address="127.0.0.1")
    monkeypatch.setattr(auth.st, "context", context, raising=False)
    for trusted, expected in ((False, "127.0.0.1"), (True, "203.0.113.7")):
        loaded = load(tmp_path, {"TRUSTED_PROXY": "true" if trusted else "false"})
        assert loaded.trusted_proxy is trusted
        monkeypatch.setattr(resources, "settings", lambda s=loaded: s)
        assert auth.client_ip() == expected
