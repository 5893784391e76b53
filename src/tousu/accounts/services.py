"""Writes to staff accounts: signing in, with a lockout after repeated failures.

After ``MAX_FAILURES`` wrong passwords in a row an account is locked for ``LOCK_MINUTES``; a
successful sign-in resets the count. A client address with ``TOUSU_SIGN_IN_FAILURES_PER_ADDRESS``
failures within ``TOUSU_SIGN_IN_WINDOW_MINUTES`` is refused whatever the username (password
spraying across many accounts). Every refusal is an audit event (``access.denied``), every success
one too (``sign_in``). Every sign-in page (the staff page and the admin's) goes through
``auth_sign_in``.

A refusal never tells whether the username exists: an unknown name gets the same message as a
wrong password, and it is "locked" just like a real account would be, from the audit rows of its
earlier failures (keyed by a keyed hash of the name, so no typed name is stored in clear).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tousu.accounts.models import User
from tousu.audit.models import AuditEvent, AuditKind
from tousu.audit.services import audit_record
from tousu.common.errors import TousuError
from tousu.common.origin import Origin, client_address
from tousu.common.ratelimit import ratelimit_count, ratelimit_hit

MAX_FAILURES: Final = 5
LOCK_MINUTES: Final = 15
LOCK_TIME: Final = timedelta(minutes=LOCK_MINUTES)
# How far back the failures of an unknown name are remembered (a real account remembers until
# its next success; nobody can tell the difference within a day).
UNKNOWN_NAME_MEMORY: Final = timedelta(days=1)

BAD_PASSWORD: Final = "bad password"
LOCKED: Final = "locked"
THROTTLED: Final = "address throttled"
ADDRESS_SCOPE: Final = "sign-in-failures-addr"


class SignInRefused(TousuError):
    """The username and password were not accepted."""

    code = "sign_in_refused"
    http_status = 400

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _("Your username and password didn't match. Please try again."))


class AccountLocked(SignInRefused):
    """Too many failures in a row: nobody signs in to this account until ``until``."""

    code = "account_locked"

    def __init__(self, *, until: datetime, now: datetime) -> None:
        self.until = until
        self.minutes_left = max(1, math.ceil((until - now).total_seconds() / 60))
        super().__init__(
            ngettext(
                "Too many failed sign-in attempts. The account is locked; try again in %(minutes)s minute.",
                "Too many failed sign-in attempts. The account is locked; try again in %(minutes)s minutes.",
                self.minutes_left,
            )
            % {"minutes": self.minutes_left}
        )


class SignInThrottled(SignInRefused):
    """Too many failed sign-ins from this client address, whatever the usernames: nobody signs in
    from it until the window ends."""

    code = "sign_in_throttled"
    http_status = 429

    def __init__(self, *, retry_after: int) -> None:
        self.retry_after = retry_after
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            ngettext(
                "Too many failed sign-in attempts from your network. Try again in %(minutes)s minute.",
                "Too many failed sign-in attempts from your network. Try again in %(minutes)s minutes.",
                minutes,
            )
            % {"minutes": minutes}
        )


def _address_window() -> int:
    return int(settings.TOUSU_SIGN_IN_WINDOW_MINUTES) * 60


@dataclass
class _LockState:
    failures: int
    locked_until: datetime | None

    def fail(self, now: datetime) -> bool:
        """Count one wrong password at ``now``; True when this failure locks the account."""
        self.expire(now)
        self.failures += 1
        if self.failures >= MAX_FAILURES:
            self.locked_until = now + LOCK_TIME
            return True
        return False

    def expire(self, now: datetime) -> None:
        """A lock that has run out starts the count again."""
        if self.locked_until is not None and self.locked_until <= now:
            self.failures, self.locked_until = 0, None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def _unknown_name_key(username: str) -> str:
    return salted_hmac("tousu.accounts.sign_in", username).hexdigest()[:40]


def _unknown_name_state(key: str, now: datetime) -> _LockState:
    """Replay the recent wrong-password rows of an unknown name through the same rules."""
    state = _LockState(failures=0, locked_until=None)
    times = AuditEvent.objects.filter(
        kind=AuditKind.ACCESS_DENIED,
        object_type="user",
        object_id=key,
        created_at__gte=now - UNKNOWN_NAME_MEMORY,
        payload__reason=BAD_PASSWORD,
    ).order_by("created_at", "id")
    for at in times.values_list("created_at", flat=True):
        state.fail(at)
    return state


def _deny(user: User | None, object_id: str, reason: str, origin: Origin) -> None:
    audit_record(
        actor=user,
        kind=AuditKind.ACCESS_DENIED,
        object_type="user",
        object_id=object_id,
        origin=origin,
        payload={"reason": reason},
    )


def auth_sign_in(*, request: Any, username: str, password: str) -> User:
    """The user these credentials belong to, or ``SignInRefused`` / ``AccountLocked``.

    The caller starts the session (``django.contrib.auth.login``). The refusal and its audit rows
    are committed before the error is raised.
    """
    origin = Origin.from_request(request)
    address = client_address(request)
    limit, window = settings.TOUSU_SIGN_IN_FAILURES_PER_ADDRESS, _address_window()
    count = ratelimit_count(ADDRESS_SCOPE, address, window=window)
    if count.count >= limit:
        audit_record(
            actor=None,
            kind=AuditKind.ACCESS_DENIED,
            object_type="address",
            object_id=address[:40],
            origin=origin,
            payload={"reason": THROTTLED, "username_key": _unknown_name_key(username)},
        )
        raise SignInThrottled(retry_after=count.retry_after)
    with transaction.atomic():
        now = timezone.now()
        user = User._default_manager.select_for_update().filter(**{User.USERNAME_FIELD: username}).first()
        # Always check the password (a dummy hash for unknown names) so timing tells nothing either.
        checked = authenticate(request, username=username, password=password)
        actor: User | None
        if user is None:
            actor, object_id = None, _unknown_name_key(username)
            state = _unknown_name_state(object_id, now)
            ok = False
        else:
            actor, object_id = user, str(user.pk)
            state = _LockState(failures=user.failed_logins, locked_until=user.locked_until)
            ok = checked is not None and checked.pk == user.pk
        state.expire(now)
        if state.is_locked(now):
            _deny(actor, object_id, LOCKED, origin)
        elif ok:
            state.failures = 0
            audit_record(
                actor=user, kind=AuditKind.SIGNED_IN, object_type="user", object_id=object_id, origin=origin
            )
        else:
            _deny(actor, object_id, BAD_PASSWORD, origin)
            if state.fail(now):
                _deny(actor, object_id, LOCKED, origin)
        if user is not None and (state.failures, state.locked_until) != (
            user.failed_logins,
            user.locked_until,
        ):
            user.failed_logins, user.locked_until = state.failures, state.locked_until
            user.save(update_fields=["failed_logins", "locked_until"])
    # Raised after the block: the refusal's audit rows and counters are committed.
    if not ok:
        ratelimit_hit(ADDRESS_SCOPE, address, limit=limit, window=window)
    if state.locked_until is not None and state.is_locked(now):
        raise AccountLocked(until=state.locked_until, now=now)
    if not ok:
        raise SignInRefused()
    return cast(User, checked)
