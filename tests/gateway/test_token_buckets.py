"""The one token bucket behind the request rate limit and the classification budget."""

from __future__ import annotations

import pytest

from redline.gateway import security
from redline.gateway.security import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(security.time, "monotonic", c)
    return c


def test_a_refused_take_takes_nothing_and_says_how_long(clock: Clock) -> None:
    buckets = TokenBuckets(per_minute=60, burst=10)  # one token a second
    assert buckets.take("alice", 8) == 0.0
    assert buckets.take("alice", 5) == pytest.approx(3.0)  # 2 left, 3 short
    assert buckets.take("alice", 2) == 0.0  # the refusal took nothing
    assert buckets.take("bob", 10) == 0.0  # another key has its own bucket


def test_the_bucket_refills_at_the_rate_and_no_further_than_burst(clock: Clock) -> None:
    buckets = TokenBuckets(per_minute=60, burst=10)
    assert buckets.take("alice", 10) == 0.0
    clock.now += 4
    assert buckets.take("alice", 5) == pytest.approx(1.0)
    clock.now += 1
    assert buckets.take("alice", 5) == 0.0
    clock.now += 3600
    assert buckets.take("alice", 11) == pytest.approx(1.0)  # full is burst, not an hour's worth


def test_no_rate_is_no_limit(clock: Clock) -> None:
    buckets = TokenBuckets(per_minute=0, burst=1)
    assert [buckets.take("alice", 1e9) for _ in range(3)] == [0.0, 0.0, 0.0]
