"""Fixed-window rate limits over Django's cache (Redis in production, so every web process shares
the counts; the in-process cache in the demo and the tests).

    hit = ratelimit_hit("api-key", str(key.pk), limit=120, window=60)
    if not hit.allowed: ...  # answer 429 with Retry-After: hit.retry_after
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import caches

CACHE = "ratelimit"


@dataclass(frozen=True)
class Hit:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the window resets


def ratelimit_hit(scope: str, ident: str, *, limit: int, window: int, now: float | None = None) -> Hit:
    """Count one request of ``ident`` in ``scope``; allowed while the window's count ≤ ``limit``."""
    now = time.time() if now is None else now
    start = int(now // window) * window
    key = f"rl:{scope}:{ident}:{start}"
    cache = caches[CACHE]
    if cache.add(key, 1, timeout=window + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window + 1)
            count = 1
    return Hit(
        allowed=count <= limit, count=count, limit=limit, retry_after=max(1, int(start + window - now))
    )


def ratelimit_count(scope: str, ident: str, *, window: int, now: float | None = None) -> Hit:
    """The current window's count of ``ident`` in ``scope``, without counting a hit (``limit`` 0:
    the caller compares)."""
    now = time.time() if now is None else now
    start = int(now // window) * window
    count = int(caches[CACHE].get(f"rl:{scope}:{ident}:{start}", 0))
    return Hit(allowed=True, count=count, limit=0, retry_after=max(1, int(start + window - now)))


def ratelimit_reset() -> None:
    """Forget every count (tests)."""
    caches[CACHE].clear()
