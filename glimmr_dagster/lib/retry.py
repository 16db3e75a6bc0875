"""Retry timing shared by every HTTP client in the project: exponential backoff with jitter.

Servers that answer 429 or 503 often say when to come back (`Retry-After`); that wins over our
own schedule, capped so a hostile value cannot park a run for a day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})

# Transport failures worth another attempt: the server or the path to it may recover.
RETRYABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential backoff: attempt n waits uniform(0.5, 1.0) × min(cap, base × 2^n)."""

    base_seconds: float = 2.0
    max_seconds: float = 60.0
    max_attempts: int = 6
    # Upper bound on a server's Retry-After we are willing to honour within one call.
    max_retry_after_seconds: float = 300.0

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_seconds)
        ceiling = min(self.max_seconds, self.base_seconds * (2**attempt))
        return ceiling * (rng or random).uniform(0.5, 1.0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date. None when absent or junk."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - (now or datetime.now(timezone.utc))).total_seconds(), 0.0)


def is_retryable_status(status_code: int) -> bool:
    return status_code in RETRYABLE_STATUS
