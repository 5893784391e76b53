"""``tousu check --deploy``: what is unsafe or unfit for production in the current configuration,
beside Django's own deployment checks (security.W0xx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks


def _warning(code: int, msg: str, hint: str) -> checks.CheckMessage:
    return checks.Warning(msg, hint=hint, id=f"tousu.W1{code:02d}")


@checks.register(checks.Tags.security, deploy=True)
def deployment_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    engine = settings.DATABASES["default"]["ENGINE"]
    if settings.DEBUG:
        found.append(
            _warning(
                1, "TOUSU_DEBUG is on: tracebacks and settings are shown to anyone.", "Unset TOUSU_DEBUG."
            )
        )
    if not settings.TOUSU_HTTPS:
        found.append(
            _warning(
                2,
                "TOUSU_HTTPS is off: session cookies travel without the Secure flag and no HSTS is sent.",
                "Serve through a TLS reverse proxy and set TOUSU_HTTPS=true (README, Production).",
            )
        )
    if engine.endswith("sqlite3"):
        found.append(
            _warning(
                3,
                "The database is the embedded SQLite file: one machine, one writer at a time.",
                "Set TOUSU_DATABASE_URL=postgres://… for more than a demo or a small centre.",
            )
        )
    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        found.append(
            _warning(
                4,
                "Rate limits and sign-in throttles count per process (no TOUSU_CACHE_URL).",
                "Set TOUSU_CACHE_URL=redis://host:6379/0 so every web process shares the counts.",
            )
        )
    if settings.TOUSU_EMAIL_TRANSPORT != "smtp" or settings.TOUSU_SMS_TRANSPORT != "http":
        found.append(
            _warning(
                5,
                "Customer messages are not sent: the e-mail or SMS transport writes to the outbox file.",
                "Set TOUSU_EMAIL_TRANSPORT=smtp (TOUSU_SMTP_*) and TOUSU_SMS_TRANSPORT=http (TOUSU_SMS_GATEWAY_*).",
            )
        )
    if not settings.TOUSU_METRICS_TOKEN:
        found.append(
            _warning(
                6,
                "TOUSU_METRICS_TOKEN is not set: Prometheus cannot scrape /metrics.",
                "Set a long random TOUSU_METRICS_TOKEN and give it to the scraper as a bearer token.",
            )
        )
    elif len(settings.TOUSU_METRICS_TOKEN) < 24:
        found.append(
            _warning(7, "TOUSU_METRICS_TOKEN is short (under 24 characters).", "Use a long random token.")
        )
    if settings.TOUSU_PUBLIC_URL.startswith("http://") and settings.TOUSU_HTTPS:
        found.append(
            _warning(
                8,
                "TOUSU_PUBLIC_URL starts with http:// while the site is served over HTTPS: links in messages are plain.",
                "Set TOUSU_PUBLIC_URL=https://your.host.",
            )
        )
    if any(host in ("*", "") for host in settings.ALLOWED_HOSTS):
        found.append(_warning(9, "TOUSU_ALLOWED_HOSTS accepts any host name.", "List the site's host names."))
    if settings.TOUSU_WEBHOOK_PRIVATE_ADDRESSES:
        found.append(
            _warning(
                10,
                "TOUSU_WEBHOOK_PRIVATE_ADDRESSES is on: API clients can make Tousu call addresses inside your network.",
                "Turn it off unless every hub subscriber is trusted.",
            )
        )
    secret_file = Path(settings.DATA_DIR) / "secret_key"
    if secret_file.exists() and secret_file.stat().st_mode & 0o077:
        found.append(
            _warning(
                11, f"{secret_file} can be read by other users of the machine.", f"chmod 600 {secret_file}"
            )
        )
    return found
