"""One typed settings object, read once from the environment and `.streamlit/secrets.toml`.

Environment variables win over the secrets file. Demo mode (the embedded default) uses fixed demo keys;
production mode refuses to start with them, or with keys that are too short.
"""

from __future__ import annotations

import base64
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.crypto import join_ring, ring_keys
from core.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRETS_PATH = ROOT / ".streamlit" / "secrets.toml"

# Public demo keys: fine for the embedded demo, refused in production.
DEMO_COOKIE_KEY = "demo-cookie-key-NOT-FOR-PRODUCTION-0123456789abcdef"
DEMO_ENCRYPTION_KEY = base64.urlsafe_b64encode(b"demo-encryption-key-not-for-prod").decode()
MIN_KEY_BYTES = 32


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""
    port: int = 587
    security: str = "starttls"  # none, starttls, ssl
    user: str = ""
    password: str = field(default="", repr=False)
    sender: str = "schadenportal@localhost"

    @property
    def configured(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class ImapSettings:
    """The insurer mailbox the worker polls (core.imap_fetch); empty host: not polled."""

    host: str = ""
    port: int = 993
    security: str = "ssl"  # none, starttls, ssl
    user: str = ""
    password: str = field(default="", repr=False)
    folder: str = "INBOX"

    @property
    def configured(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class Settings:
    mode: str
    data_dir: Path
    database_url: str
    cookie_name: str
    cookie_key: str = field(repr=False)
    encryption_key: str = field(repr=False)  # key ring: current key, then previous keys (core.crypto)
    base_url: str
    session_idle_minutes: int
    session_absolute_hours: int
    lockout_attempts: int
    lockout_minutes: int
    upload_max_mb: int
    demo_password: str = field(repr=False)
    db_pool_size: int
    appraiser_commission_bp: int  # what the portal keeps of an appraiser's payment, in basis points
    smtp: SmtpSettings
    webhooks_allow_private: bool = False  # webhook URLs to private/loopback addresses (demo: allowed)
    retention_months: int = 24  # personal data of closed/cancelled cases is erased this long after (§10)
    trusted_proxy: bool = False  # behind nginx (deploy/): the client address is the proxy's X-Real-IP header
    imap: ImapSettings = field(default_factory=ImapSettings)  # inbound insurer mail (IMAP_*)
    api_rate_limit_per_minute: int = 60  # REST API: requests per key and minute (counted in the database)
    api_port: int = 8503  # REST API port started by `serve` beside the app (`api` takes --port)

    @property
    def demo(self) -> bool:
        return self.mode == "demo"

    @property
    def encryption_key_current(self) -> str:
        """The key new data is encrypted with (ENCRYPTION_KEY)."""
        keys = ring_keys(self.encryption_key)
        return keys[0] if keys else ""

    @property
    def encryption_keys_previous(self) -> tuple[str, ...]:
        """Old keys still accepted for reading until `rotate-key` is done (ENCRYPTION_KEY_PREVIOUS)."""
        return ring_keys(self.encryption_key)[1:]

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, secrets_path: Path | None = None) -> Settings:
        """Read settings from the environment (first) and the secrets file; validate them."""
        env = os.environ if env is None else env
        secrets = _read_secrets(secrets_path or Path(env.get("SECRETS_PATH", DEFAULT_SECRETS_PATH)))

        def get(name: str, default: str = "") -> str:
            if name in env and env[name] != "":
                return env[name]
            value = secrets.get(name, secrets.get(name.lower()))
            return default if value is None else str(value)

        def get_int(name: str, default: int) -> int:
            raw = get(name, str(default))
            try:
                return int(raw)
            except ValueError as exc:
                raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from exc

        mode = get("APP_MODE", "demo").lower()
        if mode not in ("demo", "production"):
            raise ConfigurationError(f"APP_MODE must be 'demo' or 'production', got {mode!r}")
        data_dir = Path(get("DATA_DIR", str(ROOT / "data"))).resolve()
        default_db = f"sqlite:///{data_dir / 'schadenportal.db'}"
        demo = mode == "demo"
        settings = cls(
            mode=mode,
            data_dir=data_dir,
            database_url=get("DATABASE_URL", default_db),
            cookie_name=get("COOKIE_NAME", "schadenportal_auth"),
            cookie_key=get("COOKIE_KEY", DEMO_COOKIE_KEY if demo else ""),
            encryption_key=_encryption_ring(get("ENCRYPTION_KEY", DEMO_ENCRYPTION_KEY if demo else ""),
                                            get("ENCRYPTION_KEY_PREVIOUS")),
            base_url=get("BASE_URL", "http://localhost:8501").rstrip("/"),
            session_idle_minutes=get_int("SESSION_IDLE_MINUTES", 30),
            session_absolute_hours=get_int("SESSION_ABSOLUTE_HOURS", 12),
            lockout_attempts=get_int("LOCKOUT_ATTEMPTS", 5),
            lockout_minutes=get_int("LOCKOUT_MINUTES", 15),
            upload_max_mb=get_int("UPLOAD_MAX_MB", 20),
            demo_password=get("DEMO_PASSWORD", "demo1234"),
            db_pool_size=get_int("DB_POOL_SIZE", 5),
            appraiser_commission_bp=get_int("APPRAISER_COMMISSION_BP", 1000),
            retention_months=get_int("RETENTION_MONTHS", 24),
            smtp=SmtpSettings(
                host=get("SMTP_HOST"),
                port=get_int("SMTP_PORT", 587),
                security=get("SMTP_SECURITY", "starttls").lower(),
                user=get("SMTP_USER"),
                password=get("SMTP_PASSWORD"),
                sender=get("SMTP_SENDER", "schadenportal@localhost"),
            ),
            webhooks_allow_private=_flag("WEBHOOKS_ALLOW_PRIVATE",
                                         get("WEBHOOKS_ALLOW_PRIVATE", "true" if demo else "false")),
            trusted_proxy=_flag("TRUSTED_PROXY", get("TRUSTED_PROXY", "false")),
            imap=ImapSettings(
                host=get("IMAP_HOST"),
                port=get_int("IMAP_PORT", 993),
                security=get("IMAP_SECURITY", "ssl").lower(),
                user=get("IMAP_USER"),
                password=get("IMAP_PASSWORD"),
                folder=get("IMAP_FOLDER", "INBOX"),
            ),
            api_rate_limit_per_minute=get_int("API_RATE_LIMIT_PER_MINUTE", 60),
            api_port=get_int("API_PORT", 8503),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse settings that are unsafe for the mode."""
        if not 0 <= self.appraiser_commission_bp <= 10_000:
            raise ConfigurationError("APPRAISER_COMMISSION_BP must be between 0 and 10000 (basis points)")
        if not 1 <= self.retention_months <= 1200:
            raise ConfigurationError("RETENTION_MONTHS must be between 1 and 1200 (months after closing)")
        if not 1 <= self.api_rate_limit_per_minute <= 1_000_000:
            raise ConfigurationError("API_RATE_LIMIT_PER_MINUTE must be between 1 and 1000000")
        if self.smtp.security not in ("none", "starttls", "ssl"):
            raise ConfigurationError("SMTP_SECURITY must be none, starttls or ssl")
        if self.imap.security not in ("none", "starttls", "ssl"):
            raise ConfigurationError("IMAP_SECURITY must be none, starttls or ssl")
        for key in self.encryption_keys_previous:
            if not _is_fernet_key(key):
                raise ConfigurationError("ENCRYPTION_KEY_PREVIOUS must be Fernet keys (32 url-safe base64 bytes), "
                                         "separated by commas")
        if self.demo:
            return
        if not self.cookie_key or self.cookie_key == DEMO_COOKIE_KEY:
            raise ConfigurationError("Production mode needs COOKIE_KEY set to a new random secret")
        if len(self.cookie_key.encode()) < MIN_KEY_BYTES:
            raise ConfigurationError(f"COOKIE_KEY must be at least {MIN_KEY_BYTES} bytes")
        current = self.encryption_key_current
        if not current or current == DEMO_ENCRYPTION_KEY:
            raise ConfigurationError("Production mode needs ENCRYPTION_KEY set to a new Fernet key")
        if not _is_fernet_key(current):
            raise ConfigurationError("ENCRYPTION_KEY must be a Fernet key (32 url-safe base64 bytes)")


def _encryption_ring(current: str, previous: str) -> str:
    """ENCRYPTION_KEY (one key) and ENCRYPTION_KEY_PREVIOUS (comma list) as one key ring, current first."""
    if "," in current:
        raise ConfigurationError("ENCRYPTION_KEY takes one key; put old keys into ENCRYPTION_KEY_PREVIOUS")
    return join_ring(current, ring_keys(previous)) if current else ""


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except ValueError:
        return False


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


def _read_secrets(path: Path) -> dict:
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    flat: dict = {}
    for key, value in data.items():
        if isinstance(value, dict):  # [smtp] host = ... -> SMTP_HOST
            for sub, subval in value.items():
                flat[f"{key}_{sub}".upper()] = subval
        else:
            flat[key.upper()] = value
    return flat
