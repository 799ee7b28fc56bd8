"""Fault schedules are reproducible and rate limits behave like token buckets."""

from __future__ import annotations

import pytest

from medcrypt.sandbox.faults import (
    FaultKind,
    FaultPlan,
    Faults,
    Injected429s,
    RateLimiter,
    RateLimits,
)


def schedule(faults: Faults, n: int = 2000) -> list[FaultKind]:
    plan = FaultPlan(faults)
    return [plan.decide("sendMessage") for _ in range(n)]


def test_same_seed_same_schedule_different_seed_different() -> None:
    f = Faults(error_rate=0.1, drop_rate=0.05, timeout_rate=0.05, seed=7)
    assert schedule(f) == schedule(f)
    assert schedule(f) != schedule(Faults(error_rate=0.1, drop_rate=0.05, timeout_rate=0.05,
                                          seed=8))


def test_rates_are_honoured_over_many_requests() -> None:
    kinds = schedule(Faults(error_rate=0.1, drop_rate=0.05, timeout_rate=0.05, seed=1), 5000)
    share = sum(k is not FaultKind.NONE for k in kinds) / len(kinds)
    assert 0.17 < share < 0.23
    assert {FaultKind.ERROR, FaultKind.DROP, FaultKind.TIMEOUT, FaultKind.NONE} == set(kinds)


def test_counts_and_method_filter() -> None:
    plan = FaultPlan(Faults(error_rate=1.0, methods=frozenset({"sendMessage"})))
    assert plan.decide("getUpdates") is FaultKind.NONE
    assert plan.decide("sendMessage") is FaultKind.ERROR
    assert plan.decide("sendmessage") is FaultKind.ERROR  # Bot API names ignore case
    assert plan.counts[FaultKind.ERROR] == 2
    assert plan.error_status() in (500, 502)


@pytest.mark.parametrize("kwargs", [{"error_rate": -0.1}, {"error_rate": 0.7, "drop_rate": 0.4},
                                    {"hang_seconds": -1}, {"retry_after": -1}])
def test_invalid_faults_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        Faults(**kwargs)  # type: ignore[arg-type]


def test_token_buckets_per_key_and_global() -> None:
    now = [100.0]
    limiter = RateLimiter(RateLimits(per_chat_per_second=1, per_chat_burst=2,
                                     global_per_second=3, global_burst=3), lambda: now[0])
    assert [limiter.check("a") for _ in range(3)] == [0, 0, 1]
    assert limiter.check("b") == 0
    assert limiter.check("c") == 1  # global bucket (3) exhausted: a, a, b
    now[0] += 0.5
    assert limiter.check("a") == 1  # half a token for a
    now[0] += 0.5
    assert limiter.check("a") == 0


def test_injected_429s_are_consumed_in_order() -> None:
    inj = Injected429s()
    inj.add("1", 5, times=2)
    inj.add("1", 9)
    assert [inj.take("1"), inj.take("1"), inj.take("1"), inj.take("1")] == [5, 5, 9, None]
    assert inj.take("2") is None
    with pytest.raises(ValueError, match="times"):
        inj.add("1", 1, times=0)

