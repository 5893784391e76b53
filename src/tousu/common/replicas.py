"""Read-only work on streaming replicas, with bounded staleness and read-your-writes.

``TOUSU_DATABASE_REPLICA_URLS`` names PostgreSQL hot standbys of the primary; each becomes a
database alias (``replica1``, ``replica2``, …). Nothing reads from them unless it asks: pages whose
reads may be a few seconds old (reports, queues and their counts, search, the TMF621 list) run
inside :func:`replica_reads` (``ReplicaMiddleware`` does it for the paths in
``TOUSU_REPLICA_PATHS``). Everything else — every write, every read inside a transaction (so every
service), every request of a client that wrote in the last ``TOUSU_REPLICA_MAX_LAG`` seconds — uses
the primary. A replica lagging more than ``TOUSU_REPLICA_MAX_LAG`` seconds, or not answering, is
skipped; its lag is measured at most every ``TOUSU_REPLICA_CHECK_SECONDS`` per process.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse

log = logging.getLogger("tousu.replicas")

_reading: ContextVar[str | None] = ContextVar("tousu_replica_alias", default=None)
_lag_cache: dict[str, tuple[float, float | None]] = {}  # alias -> (measured at, lag seconds or None)

LAG_SQL = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL "
    "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith("replica")]


def replica_lag(alias: str, *, fresh: bool = False) -> float | None:
    """Seconds ``alias`` is behind the primary (0 when it has replayed all it received); ``None``
    when it does not answer or is not a standby."""
    now = time.monotonic()
    cached = _lag_cache.get(alias)
    if cached and not fresh and now - cached[0] < settings.TOUSU_REPLICA_CHECK_SECONDS:
        return cached[1]
    lag: float | None
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(LAG_SQL)
            row = cursor.fetchone()
        lag = None if row is None or row[0] is None else float(row[0])
    except DatabaseError as exc:
        log.warning("replica %s does not answer: %s", alias, exc)
        connections[alias].close()
        lag = None
    _lag_cache[alias] = (now, lag)
    return lag


def healthy_replica() -> str | None:
    """A replica within the staleness bound, chosen at random among those that are; else None."""
    fit = [
        alias
        for alias in replica_aliases()
        if (lag := replica_lag(alias)) is not None and lag <= settings.TOUSU_REPLICA_MAX_LAG
    ]
    return random.choice(fit) if fit else None


def _writer_key(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"tousu:rw:u{user.pk}"
    session = getattr(request, "session", None)
    credential = (
        request.headers.get("Authorization")
        or request.headers.get("X-API-Key")
        or (session.session_key if session is not None else None)
    )
    if credential:
        return "tousu:rw:k" + hashlib.blake2b(credential.encode(), digest_size=12).hexdigest()
    return None


def wrote_recently(request: HttpRequest) -> bool:
    key = _writer_key(request)
    return bool(key and cache.get(key))


def remember_write(request: HttpRequest) -> None:
    key = _writer_key(request)
    if key:
        cache.set(key, 1, timeout=max(1, int(settings.TOUSU_REPLICA_MAX_LAG) + 2))


@contextmanager
def replica_reads(request: HttpRequest | None = None) -> Iterator[str]:
    """Inside the block, reads outside transactions go to a healthy replica (yields its alias, or
    ``"default"`` when none is fit or the client wrote recently)."""
    alias = None
    if replica_aliases() and not (request is not None and wrote_recently(request)):
        alias = healthy_replica()
    token = _reading.set(alias)
    try:
        yield alias or DEFAULT_DB_ALIAS
    finally:
        _reading.reset(token)


class ReplicaRouter:
    """Reads go to the replica chosen by :func:`replica_reads`, unless a transaction is open on the
    primary (a service reading what it is about to change); writes and migrations to the primary."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        alias = _reading.get()
        if alias is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return alias

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS


class ReplicaMiddleware:
    """Serves the read-only paths of ``TOUSU_REPLICA_PATHS`` (GET and HEAD) from a replica, and
    remembers who wrote, so their next pages read the primary (read-your-writes)."""

    UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_aliases():
            return self.get_response(request)
        if request.method in ("GET", "HEAD") and request.path.startswith(tuple(settings.TOUSU_REPLICA_PATHS)):
            with replica_reads(request) as alias:
                response = self.get_response(request)
            response["X-Tousu-Read-From"] = "replica" if alias != DEFAULT_DB_ALIAS else "primary"
            return response
        response = self.get_response(request)
        if request.method in self.UNSAFE and response.status_code < 400:
            remember_write(request)
        return response
