"""Creating, checking and revoking API keys.

A key reads ``tsk_<prefix>_<secret>``: the 8-character prefix finds the row, the SHA-256 of the
whole key is compared in constant time. Only the hash is stored; the key is shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.api.models import ApiKey, Scope
from tousu.common.errors import NotFound, ValidationError
from tousu.complaints.choices import Channel

PREFIX = "tsk_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def apikey_create(
    *,
    name: str,
    channel: str,
    scope: str = Scope.READ,
    all_channels: bool = False,
    rate_limit: int | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret text (shown to the caller once, never stored)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError(_("Give the key a name of 1 to 100 characters."), fields={"name": "invalid"})
    if channel not in Channel.values:
        raise ValidationError(
            _("'%(value)s' is not a channel; use one of: %(allowed)s.")
            % {"value": channel, "allowed": ", ".join(Channel.values)},
            fields={"channel": "invalid choice"},
        )
    if scope not in Scope.values:
        raise ValidationError(
            _("'%(value)s' is not a scope; use one of: %(allowed)s.")
            % {"value": scope, "allowed": ", ".join(Scope.values)},
            fields={"scope": "invalid choice"},
        )
    if rate_limit is not None and rate_limit < 1:
        raise ValidationError(_("The rate limit must be at least 1."), fields={"rate_limit": "too small"})
    if ApiKey.objects.filter(name=name).exists():
        raise ValidationError(
            _("A key named '%(name)s' exists already.") % {"name": name}, fields={"name": "taken"}
        )
    for _attempt in range(5):
        prefix = secrets.token_hex(4)
        token = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    name=name,
                    prefix=prefix,
                    key_hash=_hash(token),
                    channel=channel,
                    scope=scope,
                    all_channels=all_channels,
                    rate_limit=rate_limit,
                    created_at=timezone.now(),
                )
            return key, token
        except IntegrityError:  # the prefix (or name) was taken a moment ago
            if ApiKey.objects.filter(name=name).exists():
                raise ValidationError(
                    _("A key named '%(name)s' exists already.") % {"name": name}, fields={"name": "taken"}
                ) from None
    raise RuntimeError("could not draw a free key prefix")  # pragma: no cover


# Checked keys, per process, for KEY_SECONDS: an API client sends its key with every request, and
# this spares each one a query. A key revoked in this process is forgotten at once; other processes
# stop accepting it within KEY_SECONDS.
KEY_SECONDS = 10.0
_checked: dict[str, tuple[float, ApiKey]] = {}
_checked_lock = threading.Lock()


def apikey_check(token: str) -> ApiKey | None:
    """The active key this text is, or None."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    digest = _hash(token)
    now = time.monotonic()
    cached = _checked.get(digest)
    if cached is not None and now - cached[0] <= KEY_SECONDS:
        return cached[1]
    prefix = token[len(PREFIX) : len(PREFIX) + 8]
    key = ApiKey.objects.filter(prefix=prefix, is_active=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        return None
    with _checked_lock:
        if len(_checked) > 1000:
            _checked.clear()
        _checked[digest] = (now, key)
    return key


def apikey_forget() -> None:
    """Check every key against the database again (after a revocation)."""
    with _checked_lock:
        _checked.clear()


def apikey_revoke(*, name_or_prefix: str) -> ApiKey:
    key = (
        ApiKey.objects.filter(name=name_or_prefix).first()
        or ApiKey.objects.filter(prefix=name_or_prefix).first()
    )
    if key is None:
        raise NotFound(_("No API key named '%(name)s'.") % {"name": name_or_prefix})
    if key.is_active:
        key.is_active = False
        key.revoked_at = timezone.now()
        key.save(update_fields=["is_active", "revoked_at"])
    apikey_forget()
    return key
