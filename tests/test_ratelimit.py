"""Fixed-window rate limits."""

from __future__ import annotations

import pytest

from tousu.common.ratelimit import ratelimit_hit, ratelimit_reset


@pytest.fixture(autouse=True)
def _fresh():
    ratelimit_reset()
    yield
    ratelimit_reset()


def test_the_limit_allows_exactly_n_hits_per_window():
    hits = [ratelimit_hit("t", "a", limit=3, window=60, now=1200.0) for _ in range(4)]
    assert [(h.allowed, h.count) for h in hits] == [(True, 1), (True, 2), (True, 3), (False, 4)]
    assert hits[-1].retry_after == 60


def test_scopes_and_identities_count_apart():
    ratelimit_hit("t", "a", limit=1, window=60, now=1200.0)
    assert ratelimit_hit("t", "b", limit=1, window=60, now=1200.0).allowed
    assert ratelimit_hit("u", "a", limit=1, window=60, now=1200.0).allowed
    assert not ratelimit_hit("t", "a", limit=1, window=60, now=1230.0).allowed


def test_a_new_window_starts_a_new_count():
    assert not [ratelimit_hit("t", "a", limit=1, window=60, now=1200.0) for _ in range(2)][-1].allowed
    hit = ratelimit_hit("t", "a", limit=1, window=60, now=1260.0)
    assert (hit.allowed, hit.count, hit.retry_after) == (True, 1, 60)
