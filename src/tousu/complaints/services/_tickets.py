"""Ticket numbers reserved from the day's counter in blocks (ADR 0006).

A number is ``TS`` + the local date + a six-digit sequence of that day. The day's ``TicketCounter``
row holds the highest number *reserved*. A transaction that needs a number and finds none cached
reserves ``TOUSU_TICKET_BLOCK`` numbers at once (``UPDATE … SET last = last + N RETURNING last``)
and uses the first. Only when that transaction commits (``transaction.on_commit``) does the rest of
the block go into this process's cache, where later cases take numbers with no statement at all; a
transaction that rolls back caches nothing, so no number is ever issued twice. A case that rolls
back after taking a cached number leaves a gap. Until its commit, the rest of a block also serves
later cases of the same transaction (they commit or roll back with the reservation).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection

_lock = threading.Lock()
# (database alias, database name) → (day, [[next, last], …]): committed numbers not yet issued.
_cache: dict[tuple[str, str], tuple[date, list[list[int]]]] = {}
_local = threading.local()  # .pending: the block reserved by this thread's open transaction


@dataclass
class _Pending:
    key: tuple[str, str]
    day: date
    next: int
    last: int
    keep: Callable[[], None] = field(default=lambda: None)


def ticket_block_size() -> int:
    """How many numbers one reservation takes (``TOUSU_TICKET_BLOCK``)."""
    return int(getattr(settings, "TOUSU_TICKET_BLOCK", 1))


def ticket_format(day: date, number: int) -> str:
    return f"TS{day:%Y%m%d}{number:06d}"


def _key(conn: Any) -> tuple[str, str]:
    return conn.alias, str(conn.settings_dict.get("NAME"))


def _pending_block(conn: Any) -> _Pending | None:
    """This thread's reserved block, while the transaction that reserved it can still commit."""
    pending: _Pending | None = getattr(_local, "pending", None)
    if pending is None:
        return None
    # A rolled-back transaction or savepoint drops its on_commit callbacks: the reservation is gone.
    if conn.in_atomic_block and any(entry[1] is pending.keep for entry in conn.run_on_commit):
        return pending
    _local.pending = None
    return None


def ticket_cached(day: date) -> int | None:
    """A number of ``day`` already reserved for this process, or None (then reserve a block)."""
    conn = connection
    key = _key(conn)
    pending = _pending_block(conn)
    if pending is not None and pending.key == key and pending.day == day and pending.next <= pending.last:
        pending.next += 1
        return pending.next - 1
    with _lock:
        entry = _cache.get(key)
        if entry is None:
            return None
        cached_day, ranges = entry
        if cached_day != day:
            if cached_day < day:  # the local day changed: yesterday's numbers are not today's
                del _cache[key]
            return None
        while ranges:
            span = ranges[0]
            if span[0] <= span[1]:
                span[0] += 1
                return span[0] - 1
            ranges.pop(0)
        del _cache[key]
        return None


def ticket_reserved(day: date, last: int, size: int) -> int:
    """Record the block ``last - size + 1 … last`` just reserved in the current transaction and
    return its first number; the rest is cached for this process once the transaction commits."""
    first = last - size + 1
    if size <= 1:
        return first
    conn = connection
    pending = _Pending(_key(conn), day, first + 1, last)

    def keep() -> None:
        if getattr(_local, "pending", None) is pending:
            _local.pending = None
        if pending.next > pending.last:
            return
        with _lock:
            entry = _cache.get(pending.key)
            if entry is None or entry[0] != pending.day:
                if entry is not None and entry[0] > pending.day:
                    return  # the day changed while this transaction ran
                entry = _cache[pending.key] = (pending.day, [])
            entry[1].append([pending.next, pending.last])

    pending.keep = keep
    _local.pending = pending
    conn.on_commit(keep)
    return first


def ticket_cache_clear(**_: Any) -> None:
    """Forget every reserved number (the database was flushed or re-created, or a fork)."""
    with _lock:
        _cache.clear()
    _local.pending = None


def _after_fork() -> None:
    # A forked child shares the parent's cache: both would issue the same numbers.
    global _lock, _local
    _lock = threading.Lock()
    _local = threading.local()
    _cache.clear()


os.register_at_fork(after_in_child=_after_fork)
