"""Django settings for Tousu. Everything a deployment changes comes from TOUSU_* variables.

A bad value stops start-up with a message naming the variable (see ``tousu.common.env``).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from tousu.common.env import env_bool, env_choice, env_int, env_list, env_str, env_time_zone

PACKAGE_DIR = Path(__file__).resolve().parent

DATA_DIR = Path(env_str("TOUSU_DATA_DIR", str(Path.cwd() / "data"))).resolve()
DEBUG = env_bool("TOUSU_DEBUG", False)


def _make_dir(path: Path, variable: str) -> None:
    """Create a folder the configuration names, or stop start-up naming the variable."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ImproperlyConfigured(f"{variable}: {path} is a file, not a folder") from None
    except OSError as exc:
        raise ImproperlyConfigured(
            f"{variable}: cannot create the folder {path} ({exc.strerror or exc})"
        ) from None


def _secret_key() -> str:
    key = env_str("TOUSU_SECRET_KEY", "")
    if key:
        if len(key) < 32:
            raise ImproperlyConfigured("TOUSU_SECRET_KEY must be at least 32 characters long")
        return key
    # Single-machine installs: keep a generated key in the data folder so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    _make_dir(DATA_DIR, "TOUSU_DATA_DIR")
    key = secrets.token_urlsafe(50)
    try:
        path.write_text(key)
        path.chmod(0o600)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"TOUSU_DATA_DIR: cannot write {path} ({exc.strerror or exc}); "
            "make the folder writable or set TOUSU_SECRET_KEY"
        ) from None
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("TOUSU_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("TOUSU_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # its Swagger UI files, so the API docs work offline
    "tousu.common",
    "tousu.accounts",
    "tousu.audit",
    "tousu.customers",
    "tousu.complaints",
    "tousu.sla",
    "tousu.notifications",
    "tousu.channels",
    "tousu.api",
    "tousu.portal",
    "tousu.triage",
    "tousu.knowledge",
    "tousu.analytics",
    "tousu.privacy",
    "tousu.quality",
    "tousu.ops",
    "tousu.web",
]

MIDDLEWARE = [
    "tousu.common.logs.RequestIdMiddleware",
    "tousu.ops.metrics.RequestMetricsMiddleware",
    "tousu.web.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "tousu.api.middleware.TmfApiMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "tousu.common.faults.BadInputMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tousu.common.replicas.ReplicaMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tousu.common.formtokens.FormTokenMiddleware",
    "tousu.web.middleware.ServiceErrorMiddleware",
    "tousu.common.faults.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "tousu.urls"
WSGI_APPLICATION = "tousu.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
_default_db_url = f"sqlite:///{DATA_DIR / 'tousu.sqlite3'}"
_db_url = env_str("TOUSU_DATABASE_URL", _default_db_url)
_conn_max_age = env_int("TOUSU_DB_CONN_MAX_AGE", 60, minimum=0)  # read first: its own error, its own name
try:
    _db = dj_database_url.parse(_db_url, conn_max_age=_conn_max_age)
except Exception as exc:  # dj-database-url raises several types for bad URLs
    _shown = re.sub(r"^([^:/]*://[^:@/]*):.*@", r"\1:***@", _db_url)  # never print the password
    raise ImproperlyConfigured(
        f"TOUSU_DATABASE_URL must look like sqlite:///path/to/db.sqlite3 or postgres://user@host:5432/name; got {_shown!r} ({exc})"
    ) from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _make_dir(Path(_db["NAME"]).parent, "TOUSU_DATABASE_URL")
    _db["OPTIONS"] = {
        # WAL lets readers work while one writer writes; IMMEDIATE takes the write lock at BEGIN,
        # so two writers queue instead of failing half-way with "database is locked".
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    _db["CONN_MAX_AGE"] = 0
elif _db["ENGINE"] not in ("django.db.backends.postgresql",):
    raise ImproperlyConfigured("TOUSU_DATABASE_URL must name a SQLite or PostgreSQL database")
else:
    _db["CONN_HEALTH_CHECKS"] = True
    # Server-side parameters and prepared statements: the hot statements (registration, queues)
    # are parsed and planned once per connection instead of on every call. Set
    # TOUSU_DB_PREPARE_THRESHOLD=0 behind a transaction-pooling pgbouncer older than 1.21.
    _prepare_threshold = env_int("TOUSU_DB_PREPARE_THRESHOLD", 5, minimum=0)
    _db.setdefault("OPTIONS", {}).update(
        {
            "server_side_binding": env_bool("TOUSU_DB_SERVER_SIDE_BINDING", True),
            "prepare_threshold": _prepare_threshold or None,  # psycopg: None never prepares
        }
    )
    # One test database per test run, so runs side by side (developers, CI) never share one.
    _db.setdefault("TEST", {})["NAME"] = env_str("TOUSU_TEST_DATABASE_NAME", f"test_tousu_{os.getpid()}")
DATABASES = {"default": _db}
# Streaming replicas (hot standbys of the primary) for read-only pages: see tousu/common/replicas.py.
_replica_urls = env_list("TOUSU_DATABASE_REPLICA_URLS", [])
if _replica_urls and _db["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("TOUSU_DATABASE_REPLICA_URLS needs TOUSU_DATABASE_URL to be PostgreSQL")
for _number, _replica_url in enumerate(_replica_urls, start=1):
    try:
        _replica = dj_database_url.parse(_replica_url, conn_max_age=_conn_max_age)
    except Exception as exc:
        raise ImproperlyConfigured(
            f"TOUSU_DATABASE_REPLICA_URLS: entry {_number} is not a database URL ({exc})"
        ) from None
    if _replica["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"TOUSU_DATABASE_REPLICA_URLS: entry {_number} must be a postgres:// URL")
    _replica["CONN_HEALTH_CHECKS"] = True
    _replica["OPTIONS"] = {**_db.get("OPTIONS", {}), "connect_timeout": 3}
    _replica["TEST"] = {"MIRROR": "default"}  # the test suite reads its own database there
    DATABASES[f"replica{_number}"] = _replica
DATABASE_ROUTERS = ["tousu.common.replicas.ReplicaRouter"]
# A replica more than this many seconds behind is skipped; a client that wrote within it reads the primary.
TOUSU_REPLICA_MAX_LAG = env_int("TOUSU_REPLICA_MAX_LAG", 10, minimum=1, maximum=3600)
TOUSU_REPLICA_CHECK_SECONDS = env_int("TOUSU_REPLICA_CHECK_SECONDS", 2, minimum=0, maximum=60)
TOUSU_REPLICA_PATHS = env_list(
    "TOUSU_REPLICA_PATHS",
    [
        "/reports/",
        "/queues/",
        "/dashboard/",
        "/tmf-api/troubleTicket/v4/troubleTicket",
        "/tmf-api/troubleTicket/v5/troubleTicket",
    ],
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- time and language ------------------------------------------------------------------------
USE_TZ = True
TIME_ZONE = env_time_zone("TOUSU_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LANGUAGE_CODE = env_choice("TOUSU_LANGUAGE", "zh-hans", [code for code, _name in LANGUAGES])
LOCALE_PATHS = [PACKAGE_DIR / "locale"]

# --- files --------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"  # filled by `tousu collectstatic` (demo and serve run it)
MEDIA_ROOT = Path(env_str("TOUSU_MEDIA_DIR", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Evidence attachments (size in MiB; types by extension, checked against the content too).
TOUSU_ATTACHMENT_MAX_BYTES = env_int("TOUSU_ATTACHMENT_MAX_MB", 20, minimum=1, maximum=1024) * 1024 * 1024
TOUSU_ATTACHMENTS_PER_CASE = env_int("TOUSU_ATTACHMENTS_PER_CASE", 30, minimum=1)

# The address customers reach this site at, for links in their messages (the survey, tracking).
# Unset: the address `tousu serve` / `tousu demo` listen at (TOUSU_HOST, TOUSU_PORT; a wildcard
# host such as 0.0.0.0 is reached at 127.0.0.1).
TOUSU_PORT = env_int("TOUSU_PORT", 8000, minimum=1, maximum=65535)
_LISTEN_HOST = env_str("TOUSU_HOST", "127.0.0.1")
_PUBLIC_HOST = "127.0.0.1" if _LISTEN_HOST in ("", "0.0.0.0", "::", "[::]") else _LISTEN_HOST
if ":" in _PUBLIC_HOST and not _PUBLIC_HOST.startswith("["):
    _PUBLIC_HOST = f"[{_PUBLIC_HOST}]"  # an IPv6 address in a URL
TOUSU_PUBLIC_URL = env_str("TOUSU_PUBLIC_URL", f"http://{_PUBLIC_HOST}:{TOUSU_PORT}").rstrip("/")

# --- cache (rate limits) ----------------------------------------------------------------------
# Rate limits count in this cache. Set TOUSU_CACHE_URL=redis://127.0.0.1:6379/0 in production so
# every web process shares the counts; without it each process counts on its own.
_CACHE_URL = env_str("TOUSU_CACHE_URL", "")
if _CACHE_URL and not _CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"TOUSU_CACHE_URL must be a redis:// URL, not {_CACHE_URL!r}")
_RATELIMIT_CACHE = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL, "KEY_PREFIX": "tousu"}
    if _CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tousu-ratelimit"}
)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tousu-default"},
    "ratelimit": _RATELIMIT_CACHE,
}

# --- notifications and worker ------------------------------------------------------------------
TOUSU_NOTIFY_TRANSPORT = env_choice("TOUSU_NOTIFY_TRANSPORT", "file", ["file", "console"])
TOUSU_NOTIFY_FILE = DATA_DIR / "outbox.log"
TOUSU_WORKER_INTERVAL = env_int("TOUSU_WORKER_INTERVAL_MS", 1000, minimum=50) / 1000
TOUSU_NOTIFY_MAX_ATTEMPTS = env_int("TOUSU_NOTIFY_MAX_ATTEMPTS", 8, minimum=1)

# Clocks one SLA sweep claims per transaction (warnings and breaches each).
TOUSU_SLA_BATCH = env_int("TOUSU_SLA_BATCH", 500, minimum=1, maximum=10_000)

# --- escalation ------------------------------------------------------------------------------
# The level a case reaches at once when the customer threatens the regulator, media or a court.
TOUSU_THREAT_ESCALATION_LEVEL = env_int("TOUSU_THREAT_ESCALATION_LEVEL", 1, minimum=0, maximum=3)

# --- remedies ---------------------------------------------------------------------------------
# Approval limits cover a case's money remedies together (approved and pending). With this set
# above 0, they also cover one customer's money remedies over this many days, across their cases.
TOUSU_REMEDY_CUSTOMER_WINDOW_DAYS = env_int("TOUSU_REMEDY_CUSTOMER_WINDOW_DAYS", 0, minimum=0, maximum=3660)

# --- customer portal ---------------------------------------------------------------------------
# One-time codes for following a case: valid this many minutes, dead after this many wrong tries.
TOUSU_PORTAL_CODE_MINUTES = env_int("TOUSU_PORTAL_CODE_MINUTES", 10, minimum=1, maximum=60)
TOUSU_PORTAL_CODE_ATTEMPTS = env_int("TOUSU_PORTAL_CODE_ATTEMPTS", 5, minimum=1, maximum=20)
# Rate limits (fixed windows): complaints filed per phone number and per client address per hour;
# codes asked for per phone number per 15 minutes and per address per hour; code checks per hour.
TOUSU_PORTAL_FILINGS_PER_PHONE = env_int("TOUSU_PORTAL_FILINGS_PER_PHONE", 5, minimum=1)
TOUSU_PORTAL_FILINGS_PER_ADDRESS = env_int("TOUSU_PORTAL_FILINGS_PER_ADDRESS", 20, minimum=1)
TOUSU_PORTAL_CODES_PER_PHONE = env_int("TOUSU_PORTAL_CODES_PER_PHONE", 3, minimum=1)
TOUSU_PORTAL_CODES_PER_ADDRESS = env_int("TOUSU_PORTAL_CODES_PER_ADDRESS", 20, minimum=1)
TOUSU_PORTAL_CHECKS_PER_ADDRESS = env_int("TOUSU_PORTAL_CHECKS_PER_ADDRESS", 30, minimum=1)
TOUSU_PORTAL_CHECKS_PER_PHONE = env_int("TOUSU_PORTAL_CHECKS_PER_PHONE", 15, minimum=1)
# Evidence files one filing may carry (each within TOUSU_ATTACHMENT_MAX_MB).
TOUSU_PORTAL_MAX_FILES = env_int("TOUSU_PORTAL_MAX_FILES", 5, minimum=0, maximum=30)

# --- regulator referrals (CSV) ------------------------------------------------------------------
TOUSU_REGULATOR_CSV_MAX_BYTES = env_int("TOUSU_REGULATOR_CSV_MAX_KB", 2048, minimum=1) * 1024
TOUSU_REGULATOR_CSV_MAX_ROWS = env_int("TOUSU_REGULATOR_CSV_MAX_ROWS", 1000, minimum=1)

# --- e-mail and SMS out, e-mail in -----------------------------------------------------------
# Each channel's transport; left unset it follows TOUSU_NOTIFY_TRANSPORT (file: nothing leaves).
TOUSU_EMAIL_TRANSPORT = (
    env_choice("TOUSU_EMAIL_TRANSPORT", "", ["smtp", "file", "console"])
    if env_str("TOUSU_EMAIL_TRANSPORT", "")
    else ""
)
TOUSU_SMS_TRANSPORT = (
    env_choice("TOUSU_SMS_TRANSPORT", "", ["http", "file", "console"])
    if env_str("TOUSU_SMS_TRANSPORT", "")
    else ""
)
# How long a worker's claim on a message lasts: a worker that dies mid-send is retried after it.
TOUSU_NOTIFY_LEASE_SECONDS = env_int("TOUSU_NOTIFY_LEASE_SECONDS", 300, minimum=30)
# Delivery: messages a worker claims at a time (small, so a worker that dies leaves little waiting
# for its lease), how many are sent at once (one thread per lane: one webhook endpoint, or the
# customer SMS / e-mail), and the seconds one lane may take per batch before the rest of its
# messages are handed back for the next round.
TOUSU_NOTIFY_BATCH = env_int("TOUSU_NOTIFY_BATCH", 20, minimum=1, maximum=500)
TOUSU_NOTIFY_CONCURRENCY = env_int("TOUSU_NOTIFY_CONCURRENCY", 4, minimum=1, maximum=64)
TOUSU_NOTIFY_LANE_SECONDS = env_int("TOUSU_NOTIFY_LANE_SECONDS", 15, minimum=1, maximum=600)
TOUSU_MAIL_FROM = env_str("TOUSU_MAIL_FROM", "Tousu <tousu@localhost>")
DEFAULT_FROM_EMAIL = TOUSU_MAIL_FROM
SERVER_EMAIL = TOUSU_MAIL_FROM
EMAIL_BACKEND = (
    "tousu.notifications.transports.SmtpBackend"
    if TOUSU_EMAIL_TRANSPORT == "smtp"
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env_str("TOUSU_SMTP_HOST", "localhost")
EMAIL_PORT = env_int("TOUSU_SMTP_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("TOUSU_SMTP_USER", "")
EMAIL_HOST_PASSWORD = env_str("TOUSU_SMTP_PASSWORD", "")
EMAIL_USE_TLS = env_bool("TOUSU_SMTP_TLS", False)
EMAIL_TIMEOUT = env_int("TOUSU_SMTP_TIMEOUT", 30, minimum=1)
TOUSU_SMS_GATEWAY_URL = env_str("TOUSU_SMS_GATEWAY_URL", "")
TOUSU_SMS_GATEWAY_TOKEN = env_str("TOUSU_SMS_GATEWAY_TOKEN", "")
TOUSU_SMS_GATEWAY_TIMEOUT = env_int("TOUSU_SMS_GATEWAY_TIMEOUT", 10, minimum=1)
if TOUSU_SMS_TRANSPORT == "http" and not TOUSU_SMS_GATEWAY_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("TOUSU_SMS_GATEWAY_URL must be an http(s) URL when TOUSU_SMS_TRANSPORT=http")
# The mailbox the worker polls for complaints by e-mail; no host, no polling.
TOUSU_IMAP_HOST = env_str("TOUSU_IMAP_HOST", "")
TOUSU_IMAP_SSL = env_bool("TOUSU_IMAP_SSL", True)
TOUSU_IMAP_PORT = env_int("TOUSU_IMAP_PORT", 993 if TOUSU_IMAP_SSL else 143, minimum=1, maximum=65535)
TOUSU_IMAP_USER = env_str("TOUSU_IMAP_USER", "")
TOUSU_IMAP_PASSWORD = env_str("TOUSU_IMAP_PASSWORD", "")
TOUSU_IMAP_FOLDER = env_str("TOUSU_IMAP_FOLDER", "INBOX")
TOUSU_IMAP_INTERVAL = env_int("TOUSU_IMAP_INTERVAL", 60, minimum=1)
TOUSU_IMAP_TIMEOUT = env_int("TOUSU_IMAP_TIMEOUT", 30, minimum=1)
# Cases made from e-mail start in this (leaf) category and business type, to be classified by staff.
TOUSU_EMAIL_CATEGORY = env_str("TOUSU_EMAIL_CATEGORY", "other")
TOUSU_EMAIL_BUSINESS_TYPE = env_choice(
    "TOUSU_EMAIL_BUSINESS_TYPE",
    "other",
    ["mobile", "fixed_line", "broadband", "data", "value_added", "iptv", "other"],
)

# --- TMF621 API ------------------------------------------------------------------------------
# Requests per minute per API key (a key's own limit, set in the admin, wins).
TOUSU_API_RATE_LIMIT = env_int("TOUSU_API_RATE_LIMIT", 600, minimum=1)
# The largest request body the API reads; larger ones get 413. The default holds the largest
# valid ticket (its text limits: description 5,000 and demand 2,000 characters) even when every
# character is sent as a JSON \u escape.
TOUSU_API_MAX_BODY_BYTES = env_int("TOUSU_API_MAX_BODY_BYTES", 262_144, minimum=1024, maximum=10_000_000)
# Seconds a webhook callback may take to answer before the delivery counts as failed (retried).
TOUSU_WEBHOOK_TIMEOUT = env_int("TOUSU_WEBHOOK_TIMEOUT", 5, minimum=1, maximum=60)
# Whether hub callbacks may point at loopback, private or link-local addresses (an integration
# inside the operator's own network). Off: such deliveries fail, so an API client cannot make
# Tousu call into the internal network.
TOUSU_WEBHOOK_PRIVATE_ADDRESSES = env_bool("TOUSU_WEBHOOK_PRIVATE_ADDRESSES", False)

# --- ticket numbers ---------------------------------------------------------------------------
# Numbers one acceptance reserves on the day's counter; the rest are issued by the same process
# without touching the counter (docs/adr/0006-ticket-number-blocks.md). SQLite serialises writers
# anyway: one at a time there, exactly as before blocks.
TOUSU_TICKET_BLOCK = env_int(
    "TOUSU_TICKET_BLOCK",
    20 if _db["ENGINE"] == "django.db.backends.postgresql" else 1,
    minimum=1,
    maximum=1000,
)

# --- security -----------------------------------------------------------------------------------
# Reverse proxies in front of the site that append to X-Forwarded-For, for the client address in
# audit rows and rate limits. 0: the connection's address (the header is ignored, since clients
# can write it); 1: the header's last entry, and so on.
TOUSU_PROXY_HOPS = env_int("TOUSU_PROXY_HOPS", 0, minimum=0, maximum=5)
# Failed sign-ins one client address may make per window, whatever the usernames (on top of the
# per-account lockout): password spraying across accounts stops here.
TOUSU_SIGN_IN_FAILURES_PER_ADDRESS = env_int("TOUSU_SIGN_IN_FAILURES_PER_ADDRESS", 30, minimum=1)
TOUSU_SIGN_IN_WINDOW_MINUTES = env_int("TOUSU_SIGN_IN_WINDOW_MINUTES", 15, minimum=1, maximum=1440)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("TOUSU_PASSWORD_MIN_LENGTH", 10, minimum=10, maximum=128)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Staff sessions: at most TOUSU_SESSION_HOURS, and over when the browser closes; the key changes
# at sign-in (django.contrib.auth.login) and a password change ends the other sessions.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("TOUSU_SESSION_HOURS", 12, minimum=1) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
TOUSU_HTTPS = env_bool("TOUSU_HTTPS", False)
if TOUSU_HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # The health check answers over plain HTTP too (load balancers probe it inside the network).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env_int("TOUSU_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("TOUSU_HSTS_SUBDOMAINS", False)

# --- operations ---------------------------------------------------------------------------------
# /metrics answers `Authorization: Bearer <TOUSU_METRICS_TOKEN>` (and signed-in superusers).
TOUSU_METRICS_TOKEN = env_str("TOUSU_METRICS_TOKEN", "")
# /readyz: a worker kind whose freshest heartbeat is older than this is "stale"; more than
# TOUSU_READY_OUTBOX_BACKLOG messages overdue by 5 minutes is a backlog; strict: degraded → 503.
TOUSU_WORKER_STALE_SECONDS = env_int("TOUSU_WORKER_STALE_SECONDS", 120, minimum=5)
TOUSU_READY_OUTBOX_BACKLOG = env_int("TOUSU_READY_OUTBOX_BACKLOG", 1000, minimum=0)
TOUSU_READY_STRICT = env_bool("TOUSU_READY_STRICT", False)

# TOUSU_LOG_FORMAT=json: one JSON object per line (time, level, logger, message, request_id);
# plain lines otherwise. Either way each line carries the request id (X-Request-ID) it belongs to.
TOUSU_LOG_FORMAT = env_choice("TOUSU_LOG_FORMAT", "plain", ["plain", "json"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "tousu.common.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "tousu.common.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": TOUSU_LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {
        "handlers": ["console"],
        "level": env_choice("TOUSU_LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"]),
    },
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Triage (automatic classification, see README "Triage"): cases registered without an agent (API,
# portal, e-mail) and regulator referrals get the model's category and level when its confidence
# (percent) reaches TOUSU_TRIAGE_AUTO_CONFIDENCE, else they wait in the "to classify" queue; an
# escalation risk (percent) at or above TOUSU_TRIAGE_ESCALATION_RISK escalates the case one level
# (101 = never). The worker reads registrations older than TOUSU_TRIAGE_LAG_SECONDS.
TOUSU_TRIAGE_AUTO_CONFIDENCE = env_int("TOUSU_TRIAGE_AUTO_CONFIDENCE", 60, minimum=0, maximum=101)
TOUSU_TRIAGE_ESCALATION_RISK = env_int("TOUSU_TRIAGE_ESCALATION_RISK", 85, minimum=0, maximum=101)
TOUSU_TRIAGE_LAG_SECONDS = env_int("TOUSU_TRIAGE_LAG_SECONDS", 2, minimum=0, maximum=3600)
# A new case of a customer with an open case, or one registered in the last
# TOUSU_TRIAGE_REPEAT_DAYS days, on a similar issue is linked to it as a repeat (重复投诉); the same
# text again through another channel within TOUSU_TRIAGE_DUPLICATE_MINUTES is offered as a duplicate.
TOUSU_TRIAGE_REPEAT_DAYS = env_int("TOUSU_TRIAGE_REPEAT_DAYS", 30, minimum=0, maximum=3650)
TOUSU_TRIAGE_DUPLICATE_MINUTES = env_int("TOUSU_TRIAGE_DUPLICATE_MINUTES", 10, minimum=0, maximum=1440)
# Outage clusters: TOUSU_TRIAGE_CLUSTER_SIZE network complaints from one region within
# TOUSU_TRIAGE_CLUSTER_MINUTES open a major incident (crisis from TOUSU_TRIAGE_CRISIS_SIZE).
TOUSU_TRIAGE_CLUSTER_SIZE = env_int("TOUSU_TRIAGE_CLUSTER_SIZE", 10, minimum=2, maximum=100000)
TOUSU_TRIAGE_CLUSTER_MINUTES = env_int("TOUSU_TRIAGE_CLUSTER_MINUTES", 30, minimum=1, maximum=1440)
TOUSU_TRIAGE_CRISIS_SIZE = env_int("TOUSU_TRIAGE_CRISIS_SIZE", 50, minimum=2, maximum=100000)

# Retention of personal data (README "Personal data"), in days, per kind: `tousu privacy purge` and
# the worker anonymise what is older. Closed cases' personal data 3 years after closing; message
# bodies 90 days; what the e-mail intake kept of a message 180 days. Access logs are kept at least
# 6 months (183 days) and processing records (erasures, purges) at least 3 years: never less.
TOUSU_RETENTION_CASE_DAYS = env_int("TOUSU_RETENTION_CASE_DAYS", 3 * 365, minimum=1)
TOUSU_RETENTION_NOTIFICATION_DAYS = env_int("TOUSU_RETENTION_NOTIFICATION_DAYS", 90, minimum=1)
TOUSU_RETENTION_INBOUND_EMAIL_DAYS = env_int("TOUSU_RETENTION_INBOUND_EMAIL_DAYS", 180, minimum=1)
TOUSU_RETENTION_ACCESS_LOG_DAYS = env_int("TOUSU_RETENTION_ACCESS_LOG_DAYS", 365, minimum=183)
TOUSU_RETENTION_BATCH = env_int("TOUSU_RETENTION_BATCH", 500, minimum=1, maximum=100000)
