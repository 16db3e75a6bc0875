"""Sessions and rate limiting of the sandbox's PRA API, with the real index's behaviours.

Three session schemes exist, as public clients of the index have met them over time:

- `static`: a fixed header `sessionid: <configured value>` on every call;
- `user_session`: `POST /user/session` with `{"username": "<epoch ms>", "password": ""}` gives an
  id (body field and response header `sessionid`), sent back as header `sessionid`; when
  rotation is on, every Nth call answers with a new `sessionid` header that replaces the old id;
- `validate`: `POST /validate` with `{}` gives `{"sessionToken", "expires"}`, sent back as header
  `ptsessionid`.

Sessions end after a TTL and/or a number of API calls. Requests without a live session are not
refused: the API answers `200 []` (or `{}`), exactly as the real index does.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

SCHEMES = ("static", "user_session", "validate")
DEFAULT_STATIC_SESSION_ID = "glimmr-sandbox-session"


@dataclass(frozen=True)
class SessionPolicy:
    schemes: tuple[str, ...] = SCHEMES
    static_session_id: str = DEFAULT_STATIC_SESSION_ID
    # Seconds a created session lives; None: forever.
    ttl_seconds: float | None = 3600.0
    # API calls a created session serves; None: unlimited.
    max_requests: int | None = None
    # Every Nth call of a user session answers with a new `sessionid` header; None: never.
    rotate_every: int | None = None

    def __post_init__(self) -> None:
        unknown = set(self.schemes) - set(SCHEMES)
        if unknown:
            raise ValueError(f"unknown session scheme(s): {', '.join(sorted(unknown))}; known: {', '.join(SCHEMES)}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["schemes"] = list(self.schemes)
        return data


@dataclass
class _Session:
    scheme: str
    created: float
    requests: int = 0


@dataclass(frozen=True)
class Authorization:
    valid: bool
    scheme: str = ""
    # A replacement id the response must carry in its `sessionid` header.
    new_session_id: str | None = None


class SessionManager:
    MAX_SESSIONS = 10000

    def __init__(self, policy: SessionPolicy | None = None, clock: Callable[[], float] = time.monotonic):
        self.policy = policy or SessionPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}

    def update_policy(self, **changes: Any) -> SessionPolicy:
        if "schemes" in changes:
            changes["schemes"] = tuple(changes["schemes"])
        with self._lock:
            self.policy = replace(self.policy, **changes)
            return self.policy

    def enabled(self, scheme: str) -> bool:
        return scheme in self.policy.schemes

    def _new(self, scheme: str) -> str:
        token = secrets.token_hex(16) if scheme == "user_session" else secrets.token_urlsafe(24)
        with self._lock:
            if len(self._sessions) >= self.MAX_SESSIONS:
                # Drop the oldest half: clients that vanished never end their sessions.
                for stale in list(self._sessions)[: self.MAX_SESSIONS // 2]:
                    del self._sessions[stale]
            self._sessions[token] = _Session(scheme, self._clock())
        return token

    def create_user_session(self) -> str:
        return self._new("user_session")

    def create_validate_token(self) -> tuple[str, int]:
        ttl = self.policy.ttl_seconds
        return self._new("validate"), int(ttl) if ttl is not None else 86400

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
            return count

    def _live(self, token: str | None, scheme: str) -> _Session | None:
        if not token:
            return None
        session = self._sessions.get(token)
        if session is None or session.scheme != scheme:
            return None
        policy = self.policy
        if policy.ttl_seconds is not None and self._clock() - session.created > policy.ttl_seconds:
            del self._sessions[token]
            return None
        if policy.max_requests is not None and session.requests >= policy.max_requests:
            del self._sessions[token]
            return None
        return session

    def authorize(self, headers: Any) -> Authorization:
        """Check the session headers of one API call and count the call against the session."""
        policy = self.policy
        validate_token = headers.get("ptsessionid")
        session_id = headers.get("sessionid")
        with self._lock:
            if "validate" in policy.schemes:
                session = self._live(validate_token, "validate")
                if session is not None:
                    session.requests += 1
                    return Authorization(True, "validate")
            if "user_session" in policy.schemes:
                session = self._live(session_id, "user_session")
                if session is not None:
                    session.requests += 1
                    if policy.rotate_every and session.requests % policy.rotate_every == 0:
                        # The old id stops working at once: a client that ignores the header loses
                        # its session on the next call.
                        del self._sessions[session_id]
                        new_id = secrets.token_hex(16)
                        self._sessions[new_id] = replace(session)
                        return Authorization(True, "user_session", new_session_id=new_id)
                    return Authorization(True, "user_session")
        if "static" in policy.schemes and session_id and session_id == policy.static_session_id:
            return Authorization(True, "static")
        return Authorization(False)


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` API calls in any window of `seconds`; requests == 0 disables it."""

    requests: int = 0
    seconds: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.requests > 0 and self.seconds > 0

    @classmethod
    def parse(cls, text: "str | RateLimit | None") -> "RateLimit":
        """`"100/180"` means 100 calls per 180 s; `"off"`, `"0"`, `""` or None disable it."""
        if isinstance(text, RateLimit):
            return text
        text = (text or "").strip().lower()
        if text in ("", "0", "off", "none", "unlimited"):
            return cls()
        requests, sep, seconds = text.partition("/")
        try:
            parsed = cls(int(requests), float(seconds) if sep else 1.0)
        except ValueError:
            raise ValueError(f"rate limit {text!r} is not <requests>/<seconds> (e.g. 100/180) or 'off'") from None
        if parsed.requests < 0 or parsed.seconds <= 0:
            raise ValueError(f"rate limit {text!r} needs requests >= 0 and seconds > 0")
        return parsed

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}" if self.enabled else "off"


class RateLimiter:
    """A sliding-window limiter over all API calls (refused calls do not count)."""

    def __init__(self, limit: RateLimit | str | None = None, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: deque[float] = deque()
        self.limit = RateLimit.parse(limit)

    def configure(self, limit: RateLimit | str | None) -> RateLimit:
        with self._lock:
            self.limit = RateLimit.parse(limit)
            self._calls.clear()
            return self.limit

    def acquire(self) -> tuple[bool, int, str]:
        """(allowed, retry_after_seconds, ratelimit header value) for one API call."""
        with self._lock:
            limit = self.limit
            if not limit.enabled:
                return True, 0, "limit=unlimited"
            now = self._clock()
            while self._calls and now - self._calls[0] >= limit.seconds:
                self._calls.popleft()
            reset = math.ceil(limit.seconds - (now - self._calls[0])) if self._calls else int(limit.seconds)
            if len(self._calls) >= limit.requests:
                retry_after = max(1, math.ceil(limit.seconds - (now - self._calls[0])))
                return False, retry_after, f"limit={limit.requests}, remaining=0, reset={retry_after}"
            self._calls.append(now)
            remaining = limit.requests - len(self._calls)
            return True, 0, f"limit={limit.requests}, remaining={remaining}, reset={max(reset, 0)}"
