"""HTTP client for the PRA hospital-file index (see `shared/pra_api.md` for the index's shape).

What makes this client more than a `GET`:
- Sessions. The index has used three schemes; `auto` tries the newest first and falls back.
  An expired or unverified session is not an error status: the index answers 200 with `[]`
  (or `{}`), so an empty answer triggers a fresh session and one more try before it is
  believed, and is never believed for a state that had hospitals before.
- Politeness. Every request, session calls included, takes a slot from a rate limiter that
  is shared across processes, and transient failures back off exponentially with jitter,
  honouring `Retry-After`.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable
from urllib.parse import urljoin

import httpx

from ..retry import RETRYABLE_EXCEPTIONS, Backoff, is_retryable_status, parse_retry_after
from ..settings import PraSettings
from .records import Facility, FileRecord, StateListing, parse_facility, parse_state_listing

log = logging.getLogger(__name__)

USER_AGENT = "glimmr_dagster/0.1 (hospital price-transparency collector; +https://github.com/glimmr-dagster)"

SESSION_SCHEMES = ("validate", "user_session", "static", "none")


class PraError(RuntimeError):
    """The index could not answer a call; the message says which call and why."""


class PraSessionError(PraError):
    """The index kept answering as if the session were invalid (200 with `[]` or `{}`)."""


def _is_empty_answer(data: Any) -> bool:
    return data == [] or data == {}


class PraClient:
    def __init__(
        self,
        settings: PraSettings,
        *,
        limiter: Any = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.limiter = limiter
        self.backoff = Backoff(
            base_seconds=settings.backoff_base_seconds,
            max_seconds=settings.backoff_max_seconds,
            max_attempts=max(settings.max_attempts, 1),
        )
        self._sleep = sleep
        self._session_headers: dict[str, str] = {}
        self.session_scheme: str | None = None
        self.requests_sent = 0
        self.sessions_opened = 0
        self._http = httpx.Client(
            base_url=settings.api_url,
            timeout=httpx.Timeout(settings.timeout_seconds, connect=15.0),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Origin": settings.web_url,
                "Referer": settings.web_url + "/",
            },
            transport=transport,
            follow_redirects=True,
        )

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "PraClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One logical call: rate-limited, retried on transient failures, session adopted."""
        what = f"{method} {self.settings.api_url}{path}"
        last_problem = ""
        for attempt in range(self.backoff.max_attempts):
            if self.limiter is not None:
                self.limiter.acquire()
            self.requests_sent += 1
            try:
                response = self._http.request(method, path, headers=self._session_headers, **kwargs)
            except RETRYABLE_EXCEPTIONS as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
                retry_after = None
            else:
                if "ratelimit" in response.headers:
                    log.debug("PRA ratelimit header on %s: %s", what, response.headers["ratelimit"])
                self._adopt_session_header(response)
                if not is_retryable_status(response.status_code):
                    return response
                last_problem = f"HTTP {response.status_code}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt + 1 >= self.backoff.max_attempts:
                break
            delay = self.backoff.delay(attempt, retry_after)
            log.info("PRA %s failed (%s); retry %d in %.1fs", what, last_problem, attempt + 1, delay)
            self._sleep(delay)
        raise PraError(f"{what} failed after {self.backoff.max_attempts} attempts: {last_problem}")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        self._ensure_session()
        response = self._send(method, path, **kwargs)
        if response.status_code in (401, 403, 419, 440):
            # Some deployments do reject an expired session outright: renew once.
            self._open_session()
            response = self._send(method, path, **kwargs)
        if response.status_code != 200:
            raise PraError(
                f"{method} {response.request.url} answered HTTP {response.status_code}: "
                f"{response.text[:200]!r}"
            )
        try:
            return response.json()
        except ValueError:
            raise PraError(
                f"{method} {response.request.url} answered 200 with a body that is not JSON: "
                f"{response.text[:200]!r}"
            ) from None

    # -- sessions -----------------------------------------------------------------------------

    def _adopt_session_header(self, response: httpx.Response) -> None:
        renewed = response.headers.get("sessionid")
        if renewed and self.session_scheme in ("user_session", "static"):
            self._session_headers = {"sessionid": renewed}

    def _ensure_session(self) -> None:
        if self.session_scheme is None:
            self._open_session()

    def _schemes_to_try(self) -> list[str]:
        configured = self.settings.session_scheme
        if configured != "auto":
            if configured not in SESSION_SCHEMES:
                raise PraError(
                    f"unknown PRA session scheme {configured!r}; expected auto or one of {SESSION_SCHEMES}"
                )
            return [configured]
        schemes = ["validate", "user_session"]
        if self.settings.static_session_id:
            schemes.append("static")
        return schemes + ["none"]

    def _open_session(self) -> None:
        """Open a session with the newest scheme that works."""
        problems = []
        for scheme in self._schemes_to_try():
            try:
                headers = self._session_for(scheme)
            except PraError as exc:
                problems.append(f"{scheme}: {exc}")
                continue
            if headers is None:
                problems.append(f"{scheme}: no session id in the answer")
                continue
            self._session_headers = headers
            self.session_scheme = scheme
            self.sessions_opened += 1
            return
        raise PraSessionError("could not open a PRA session: " + "; ".join(problems))

    def _session_for(self, scheme: str) -> dict[str, str] | None:
        self._session_headers = {}
        if scheme == "none":
            return {}
        if scheme == "static":
            if not self.settings.static_session_id:
                raise PraError("GLIMMR_PRA_SESSION_ID is not set")
            return {"sessionid": self.settings.static_session_id}
        if scheme == "validate":
            response = self._send("POST", "/validate", json={})
            token = self._body_field(response, "sessionToken")
            return {"ptsessionid": token} if token else None
        response = self._send(
            "POST", "/user/session", json={"username": str(int(time.time() * 1000)), "password": ""}
        )
        session_id = self._body_field(response, "sessionid") or response.headers.get("sessionid", "")
        return {"sessionid": session_id} if session_id else None

    @staticmethod
    def _body_field(response: httpx.Response, name: str) -> str:
        if response.status_code != 200:
            raise PraError(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            return ""
        return str(body.get(name) or "") if isinstance(body, dict) else ""

    def _json_believing_empty_only_after_renewal(self, method: str, path: str, **kwargs: Any) -> Any:
        data = self._json(method, path, **kwargs)
        if _is_empty_answer(data):
            log.info("PRA %s %s answered %r; renewing the session and asking again", method, path, data)
            self._open_session()
            data = self._json(method, path, **kwargs)
        return data

    # -- calls ------------------------------------------------------------------------------

    def search_state(self, state: str, *, had_hospitals: bool = False) -> StateListing:
        """Every facility the index lists for a state.

        An empty answer is believed only after a fresh session also answers empty, and never
        when the state had hospitals before: then the session is broken, not the hospitals
        closed, and a PraSessionError leaves the previous roster untouched.
        """
        params = {"search": "", "searchstate": state}
        data = self._json_believing_empty_only_after_renewal("GET", "/facility/search", params=params)
        if _is_empty_answer(data):
            if had_hospitals:
                raise PraSessionError(
                    f"PRA index answered {data!r} for state {state} twice (the second time with a fresh "
                    f"{self.session_scheme} session), but {state} had hospitals before: treating this as "
                    "a session failure and keeping the previous roster"
                )
            data = []
        if not isinstance(data, list):
            raise PraError(
                f"PRA facility search for {state} answered {type(data).__name__}, expected a JSON array"
            )
        return parse_state_listing(state, data)

    def facility(self, facility_id: str, state: str = "") -> Facility | None:
        """One facility by PRA id, or None when the index (with a fresh session) has no such id."""
        data = self._json_believing_empty_only_after_renewal("GET", f"/facility/id/{facility_id}")
        if isinstance(data, dict):
            data = [data] if data else []
        if not isinstance(data, list):
            raise PraError(f"PRA facility lookup {facility_id} answered {type(data).__name__}")
        for raw in data:
            record_state = state or (str(raw.get("state") or "").strip().upper() if isinstance(raw, dict) else "")
            facility = parse_facility(raw, record_state)
            if facility is not None:
                return facility
        return None

    def file_link(self, fileid: str, project: str = "") -> str | None:
        """The mirror URL of a `cfu` file: absolute, or relative to `storage/{project}/`."""
        data = self._json_believing_empty_only_after_renewal("GET", f"/file/link/{fileid}")
        link = str(data.get("url") or "").strip() if isinstance(data, dict) else ""
        if not link:
            return None
        base = self.settings.storage_url + "/" + (f"{project.strip('/')}/" if project else "")
        return urljoin(base, link)

    def mirror_url(self, file: FileRecord) -> str | None:
        """Where PRA's own copy of a file lives, or None when the index has none."""
        if file.uses_file_link:
            return self.file_link(file.fileid, file.project)
        if file.storage and file.project:
            return f"{self.settings.storage_url}/{file.project.strip('/')}/{file.storage.lstrip('/')}"
        return None
