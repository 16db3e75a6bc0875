import random
from datetime import datetime, timedelta, timezone

from glimmr_dagster.lib.retry import Backoff, is_retryable_status, parse_retry_after


def test_retry_after_seconds_date_and_junk():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    backoff = Backoff(base_seconds=1.0, max_seconds=10.0)
    rng = random.Random(3)
    delays = [backoff.delay(attempt, rng=rng) for attempt in range(6)]
    for attempt, delay in enumerate(delays):
        ceiling = min(10.0, 2**attempt)
        assert ceiling * 0.5 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule


def test_server_retry_after_wins_but_is_capped():
    backoff = Backoff(base_seconds=1.0, max_seconds=10.0, max_retry_after_seconds=120.0)
    assert backoff.delay(0, retry_after=45.0) == 45.0
    assert backoff.delay(0, retry_after=float(timedelta(days=1).total_seconds())) == 120.0


def test_retryable_statuses():
    assert all(is_retryable_status(code) for code in (429, 500, 502, 503, 504))
    assert not any(is_retryable_status(code) for code in (200, 304, 400, 403, 404))
