"""Configuration read from the environment and validated once, at start-up.

Every variable is documented in `.env.example`. A bad value stops the app with a
message that names the variable, instead of failing later on the first request.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from app.chat.broker import FrameSignal

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"

ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(RuntimeError):
    """Raised when the environment does not describe a runnable app."""


def _int(env: dict, name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: dict, name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def normalise_database_url(url: str) -> str:
    """Point PostgreSQL URLs at the psycopg 3 driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _development_secret_key(instance_path: Path, name: str = "secret_key") -> str:
    """Generate a secret once and keep it in instance/, so it survives restarts."""
    key_file = instance_path / name
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_config(env: dict | None = None, instance_path: Path | None = None) -> dict:
    """Build the Flask config mapping from environment variables."""
    env = dict(os.environ if env is None else env)
    instance_path = Path(instance_path or env.get("INSTANCE_PATH") or DEFAULT_INSTANCE_PATH)

    app_env = env.get("APP_ENV", "development").strip().lower()
    if app_env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {app_env!r}")
    production = app_env == "production"

    secret_key = env.get("SECRET_KEY", "").strip()
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY is required when APP_ENV=production")
        secret_key = _development_secret_key(instance_path)
    elif production and len(secret_key) < 32:
        raise ConfigError("SECRET_KEY must have at least 32 characters in production")

    database_url = env.get("DATABASE_URL", "").strip()
    if not database_url:
        instance_path.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance_path / 'chamados.sqlite3'}"
    database_url = normalise_database_url(database_url)
    if not database_url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ConfigError("DATABASE_URL must be a sqlite:/// or postgresql:// URL")

    redis_url = env.get("REDIS_URL", "").strip() or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")

    provisioning_secret = env.get("MACHINE_PROVISIONING_SECRET", "").strip()
    if production and not provisioning_secret:
        raise ConfigError("MACHINE_PROVISIONING_SECRET is required when APP_ENV=production")
    if not provisioning_secret and app_env == "development":
        # A newcomer's agent can register at once; `flask seed-demo` prints it.
        provisioning_secret = _development_secret_key(instance_path, "provisioning_secret")

    public_base_url = _public_base_url(env)
    if production and not public_base_url:
        raise ConfigError(
            "PUBLIC_BASE_URL (or the seed's NEXT_PUBLIC_APP_URL) is required when APP_ENV=production: "
            "links in e-mails and the agent's pages are built from it, and without it they would "
            "point at this machine (http://127.0.0.1:5000)"
        )

    upload_dir = Path(env.get("UPLOAD_DIR") or instance_path / "uploads")
    lunch_time = env.get("AUTO_PAUSE_LUNCH_TIME", "12:00").strip()
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", lunch_time):
        raise ConfigError(f"AUTO_PAUSE_LUNCH_TIME must be HH:MM (24 h), got {lunch_time!r}")
    alerts_hour = _int(env, "ALERTS_LOCAL_HOUR", 8, minimum=0)
    if alerts_hour > 23:
        raise ConfigError(f"ALERTS_LOCAL_HOUR must be an hour from 0 to 23, got {alerts_hour}")
    config = {
        "INSTANCE_PATH": str(instance_path),
        "APP_ENV": app_env,
        "TESTING": app_env == "testing",
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(database_url),
        # A pooled connection idle this long is pinged before use (a busy one is known to be alive).
        "DATABASE_PING_IDLE_SECONDS": _int(env, "DATABASE_PING_IDLE_SECONDS", 10, minimum=0),
        "REDIS_URL": redis_url,
        "MACHINE_PROVISIONING_SECRET": provisioning_secret or None,
        "MACHINE_TOKEN_TTL_MS": _int(env, "MACHINE_TOKEN_TTL_MS", 2_592_000_000, minimum=60_000),
        "MACHINE_ONLINE_WINDOW_SECONDS": _int(env, "MACHINE_ONLINE_WINDOW_SECONDS", 300, minimum=30),
        "PORTAL_REOPEN_DAYS": _int(env, "PORTAL_REOPEN_DAYS", 7, minimum=0),
        "MACHINE_SESSION_ALLOWED_ORIGINS": _origins(env),
        # Other origins whose pages may open the chat websocket with cookies (same origin always may).
        "CHAT_ALLOWED_ORIGINS": _origins(env, "CHAT_ALLOWED_ORIGINS", ""),
        # simple-websocket: keep idle sockets alive through proxies; refuse huge frames; wake the
        # chat connection's inbox when a frame arrives (app/chat/socket.py).
        "SOCK_SERVER_OPTIONS": {
            "ping_interval": 25,
            "max_message_size": 64 * 1024,
            "event_class": FrameSignal,
        },
        "METRIC_SAMPLE_SECONDS": _int(env, "METRIC_SAMPLE_SECONDS", 300, minimum=0),
        # Heartbeats note last-seen times; they reach the database in batches this often (0: at once).
        "PRESENCE_FLUSH_SECONDS": _int(
            env, "PRESENCE_FLUSH_SECONDS", 0 if app_env == "testing" else 10, minimum=0
        ),
        "MACHINE_ALERTS_CREATE_TICKETS": _bool(env, "MACHINE_ALERTS_CREATE_TICKETS", True),
        "MACHINE_ALERTS_TICKET_REQUESTER_EMAIL": env.get(
            "MACHINE_ALERTS_TICKET_REQUESTER_EMAIL", "alertas@chamados.local"
        )
        .strip()
        .lower(),
        "USB_POLICY_STALE_MINUTES": _int(env, "USB_POLICY_STALE_MINUTES", 60, minimum=1),
        "AGENT_MAX_BODY_BYTES": _int(env, "AGENT_MAX_BODY_BYTES", 1_100_000, minimum=10_000),
        "AGENT_RATE_LIMIT": env.get("AGENT_RATE_LIMIT", "30 per minute"),
        # FusionInventory / GLPI Agent inventories (POST /api/inventory/<code>): size before and
        # after decompression, how often the agent should come back, and a per-address budget.
        "INVENTORY_MAX_BODY_BYTES": _int(env, "INVENTORY_MAX_BODY_BYTES", 8 * 1024 * 1024, minimum=10_000),
        "INVENTORY_MAX_DECODED_BYTES": _int(
            env, "INVENTORY_MAX_DECODED_BYTES", 32 * 1024 * 1024, minimum=10_000
        ),
        "INVENTORY_PROLOG_FREQ_HOURS": _int(env, "INVENTORY_PROLOG_FREQ_HOURS", 24, minimum=1),
        "INVENTORY_RATE_LIMIT": env.get("INVENTORY_RATE_LIMIT", "120 per minute"),
        # The chat's JSON fallback is polled while a chat is open: its own, larger budget.
        "CHAT_RATE_LIMIT": env.get("CHAT_RATE_LIMIT", "240 per minute"),
        "DEFAULT_TIMEZONE": _timezone(env),
        # Background jobs (workers/): shared secrets for system cron and the archive endpoint.
        "CRON_SECRET": env.get("CRON_SECRET", "").strip() or None,
        # Seed 000 §14: the internal token may reuse REPORTS_CRON_SECRET.
        "INTERNAL_HEALTH_TOKEN": (
            env.get("INTERNAL_HEALTH_TOKEN", "").strip() or env.get("REPORTS_CRON_SECRET", "").strip() or None
        ),
        "JOBS_QUEUE": env.get("JOBS_QUEUE", "chamados").strip() or "chamados",
        # Without Redis, enqueued jobs run on a background thread; tests run them inline.
        "JOBS_INLINE": _bool(env, "JOBS_INLINE", app_env == "testing"),
        # `make run` (embedded mode) sets this so the web process also runs the schedule.
        "RUN_SCHEDULER_IN_PROCESS": _bool(env, "RUN_SCHEDULER_IN_PROCESS", False),
        "REPORT_EXPORTS_ENABLED": _bool(env, "REPORT_EXPORTS_ENABLED", True),
        "REPORT_EXPORT_MAX_ROWS": _int(env, "REPORT_EXPORT_MAX_ROWS", 200_000, minimum=1),
        "EXPORT_DIR": str(Path(env.get("EXPORT_DIR") or instance_path / "exports")),
        "AUTO_PAUSE_LUNCH_ENABLED": _bool(env, "AUTO_PAUSE_LUNCH_ENABLED", False),
        "AUTO_PAUSE_LUNCH_TIME": lunch_time,
        "AUTO_PAUSE_LUNCH_QUEUE": env.get("AUTO_PAUSE_LUNCH_QUEUE", "Interno").strip() or "Interno",
        "RETENTION_TELEMETRY_DAYS": _int(env, "RETENTION_TELEMETRY_DAYS", 90, minimum=1),
        "RETENTION_ALERT_DAYS": _int(env, "RETENTION_ALERT_DAYS", 180, minimum=1),
        "RETENTION_EXPORT_DAYS": _int(env, "RETENTION_EXPORT_DAYS", 30, minimum=1),
        "AUDIT_LOG_RETENTION_DAYS": _int(env, "AUDIT_LOG_RETENTION_DAYS", 90, minimum=1),
        # The live screens' change feed: a screen away longer reloads anyway.
        "RETENTION_FEED_DAYS": _int(env, "RETENTION_FEED_DAYS", 2, minimum=1),
        # E-mail (seed 001's variables). No SMTP_ADDRESS: messages are written to the log instead.
        "SMTP_ADDRESS": env.get("SMTP_ADDRESS", "").strip() or None,
        "SMTP_PORT": _int(env, "SMTP_PORT", 587, minimum=1),
        "SMTP_USERNAME": env.get("SMTP_USERNAME", "").strip() or None,
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD", "") or None,
        "SMTP_TLS": _bool(env, "SMTP_TLS", False),  # implicit TLS (port 465)
        "SMTP_ENABLE_STARTTLS_AUTO": _bool(env, "SMTP_ENABLE_STARTTLS_AUTO", True),
        "SMTP_TIMEOUT_SECONDS": _int(env, "SMTP_TIMEOUT_SECONDS", 20, minimum=1),
        "MAILER_SENDER_EMAIL": _unquote(env.get("MAILER_SENDER_EMAIL", "Chamados <no-reply@chamados.local>")),
        # Where links in e-mails point (the jobs have no request to take the host from).
        "PUBLIC_BASE_URL": public_base_url or DEVELOPMENT_BASE_URL,
        "ALERTS_LOCAL_HOUR": alerts_hour,
        "ARCHIVE_DIR": str(Path(env.get("ARCHIVE_DIR") or "archives").resolve()),
        "UPLOAD_DIR": str(upload_dir),
        "ATTACHMENT_MAX_BYTES": _int(env, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024),
        "ATTACHMENT_ALLOWED_EXTENSIONS": _extensions(env),
        # Requests larger than the biggest upload plus form overhead are refused with 413.
        "MAX_CONTENT_LENGTH": _int(env, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024) + 1024 * 1024,
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per minute"),
        # "Esqueci a senha": requests per client address, links per e-mail (past it nothing more is
        # sent, the answer stays the same), and the least time an answer takes, so it does not tell
        # whether the e-mail has an account.
        "PASSWORD_RESET_RATE_LIMIT": env.get("PASSWORD_RESET_RATE_LIMIT", "5 per 15 minutes"),
        "PASSWORD_RESET_EMAIL_RATE_LIMIT": env.get("PASSWORD_RESET_EMAIL_RATE_LIMIT", "3 per hour"),
        "PASSWORD_RESET_MIN_MS": _int(env, "PASSWORD_RESET_MIN_MS", 0 if app_env == "testing" else 500),
        # The second step of a sign-in: codes per account, and how long it waits for one.
        "TWO_FACTOR_RATE_LIMIT": env.get("TWO_FACTOR_RATE_LIMIT", "5 per 5 minutes"),
        "TWO_FACTOR_PENDING_SECONDS": _int(env, "TWO_FACTOR_PENDING_SECONDS", 300, minimum=30),
        "RATELIMIT_ENABLED": _bool(env, "RATELIMIT_ENABLED", True),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_DURATION": _int(env, "REMEMBER_COOKIE_DAYS", 30, minimum=1) * 86400,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        # Number of reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
        "PROXY_FIX_HOPS": _int(env, "PROXY_FIX_HOPS", 0),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        "SEED_USER_EMAIL": env.get("SEED_USER_EMAIL", "admin@demo.chamados.local"),
        "SEED_USER_PASSWORD": env.get("SEED_USER_PASSWORD", "chamados-demo"),
        "SEED_USER_NAME": env.get("SEED_USER_NAME", "Administrador Demo"),
    }
    return config


DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


def _public_base_url(env: dict) -> str:
    """PUBLIC_BASE_URL, else the seed's NEXT_PUBLIC_APP_URL (an operator moving over has it); or ""."""
    for name in ("PUBLIC_BASE_URL", "NEXT_PUBLIC_APP_URL"):
        value = env.get(name, "").strip().rstrip("/")
        if value:
            if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
                raise ConfigError(f"{name} must be an http:// or https:// URL, got {value!r}")
            return value
    return ""


def _unquote(value: str) -> str:
    """MAILER_SENDER_EMAIL="Nome <x@y>" is quoted in .env files; a bare environment keeps the quotes."""
    value = (value or "").strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    return value


def _timezone(env: dict) -> str:
    name = env.get("DEFAULT_TIMEZONE", "America/Sao_Paulo").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"DEFAULT_TIMEZONE must be an IANA time zone (e.g. America/Sao_Paulo), got {name!r}"
        ) from None
    return name


def _origins(
    env: dict,
    name: str = "MACHINE_SESSION_ALLOWED_ORIGINS",
    default: str = "tauri://localhost,http://tauri.localhost",
) -> frozenset[str]:
    """A comma-separated list of origins (by default: the desktop app's WebView, allowed to
    create a device session with credentials)."""
    raw = env.get(name, default)
    return frozenset(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())


def json_column_dumps(value) -> str:
    """JSON columns (inventories of ~90 KB) are written with orjson: the stdlib encoder
    took ~2 ms of CPU per inventory snapshot."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _engine_options(database_url: str) -> dict:
    json_options = {"json_serializer": json_column_dumps, "json_deserializer": orjson.loads}
    if database_url.startswith("sqlite:"):
        # The dev server and tests use threads; SQLite must allow that.
        return {"connect_args": {"check_same_thread": False, "timeout": 15}, **json_options}
    # No pool_pre_ping (a round trip on every checkout): app/db_pool.py pings idle connections only.
    return {"pool_size": 10, "max_overflow": 10, **json_options}


def _extensions(env: dict) -> frozenset[str]:
    raw = env.get("ATTACHMENT_ALLOWED_EXTENSIONS", "pdf,png,jpg,jpeg,gif,webp,txt,log,csv,zip,docx,xlsx")
    extensions = frozenset(e.strip().lower().lstrip(".") for e in raw.split(",") if e.strip())
    if not extensions:
        raise ConfigError("ATTACHMENT_ALLOWED_EXTENSIONS must list at least one extension")
    return extensions
