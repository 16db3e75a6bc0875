import json
import subprocess
import sys

import pytest

from glimmr_dagster.lib.ratelimit import SharedRateLimiter
from glimmr_dagster.lib.settings import RateLimit


class FakeClock:
    """Deterministic time: sleeping advances the clock instead of waiting."""

    def __init__(self, start: float = 1_000_000.0):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_window_admits_the_limit_then_waits_for_the_oldest_slot(catalog):
    clock = FakeClock()
    limiter = SharedRateLimiter(catalog, "pra", RateLimit(3, 10.0), clock=clock, sleep=clock.sleep)
    waits = []
    for _ in range(3):
        waits.append(limiter.acquire())
        clock.now += 1.0
    assert waits == [0.0, 0.0, 0.0]
    # Slots were taken at t, t+1, t+2; now is t+3: the 4th request waits until t+10.
    assert limiter.acquire() == pytest.approx(7.0)
    assert clock.now == pytest.approx(1_000_010.0)


def test_buckets_are_independent(catalog):
    clock = FakeClock()
    a = SharedRateLimiter(catalog, "a", RateLimit(1, 60.0), clock=clock, sleep=clock.sleep)
    b = SharedRateLimiter(catalog, "b", RateLimit(1, 60.0), clock=clock, sleep=clock.sleep)
    assert a.acquire() == 0.0 and b.acquire() == 0.0
    assert a.acquire() == pytest.approx(60.0)


def test_two_limiters_on_one_catalog_share_the_window(catalog):
    clock = FakeClock()
    first = SharedRateLimiter(catalog, "pra", RateLimit(2, 30.0), clock=clock, sleep=clock.sleep)
    second = SharedRateLimiter(catalog, "pra", RateLimit(2, 30.0), clock=clock, sleep=clock.sleep)
    assert first.acquire() == 0.0
    assert second.acquire() == 0.0
    assert second.acquire() == pytest.approx(30.0)


_ACQUIRER = """
import json, sys, time
from glimmr_dagster.lib.catalog import Catalog
from glimmr_dagster.lib.ratelimit import SharedRateLimiter
from glimmr_dagster.lib.settings import RateLimit
limiter = SharedRateLimiter(Catalog(sys.argv[1]), "pra", RateLimit(4, 1.0))
times = []
for _ in range(6):
    limiter.acquire()
    times.append(time.time())
print(json.dumps(times))
"""


def test_limit_holds_across_processes(catalog_url):
    processes = [
        subprocess.Popen([sys.executable, "-c", _ACQUIRER, catalog_url], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    times = sorted(t for process in processes for t in json.loads(process.communicate(timeout=120)[0]))
    assert len(times) == 12
    # In any 1-second window at most 4 of the 12 requests went out, across both processes.
    # (Times are read after acquire returns, so a busy machine may delay one a little; a limiter
    # that did not hold across processes would let 8 through within milliseconds.)
    for i in range(len(times) - 4):
        assert times[i + 4] - times[i] >= 1.0 - 0.15, times
