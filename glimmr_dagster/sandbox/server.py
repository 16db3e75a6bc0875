"""The sandbox HTTP server: the PRA index API, PRA's file mirror, hospital websites, and admin.

URL layout (base = `SandboxServer.url`):

    API      GET  /facility/search?search=&searchstate=XX     bare JSON array of facility records
             GET  /facility/id/{id}                           array of 0 or 1 records
             GET  /file/link/{fileid}                         {"url": ...} for cfu files
             POST /user/session, GET /check, POST /validate   session schemes
    mirror   GET/HEAD /storage/{project}/{storage}            GLIMMR_PRA_STORAGE_URL = {base}/storage
    origins  GET/HEAD /origin/{hospital host}/...             the hospitals' own file URLs and pages
    admin    /_sandbox/...                                    scenario control (see `_admin_routes`)

One `ThreadingHTTPServer` (HTTP/1.1, keep-alive) serves everything from a background thread.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import traceback
import zlib
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from glimmr_dagster.lib.settings import DEFAULT_SANDBOX_PORT

from .content import Content, content_etag, describe_formats, get_format
from .faults import FaultBook, FileFaults, is_library_agent
from .http_semantics import (
    RangeNotSatisfiable,
    accepts_gzip,
    http_date,
    if_range_allows,
    none_match,
    parse_http_date,
    parse_single_range,
)
from .sessions import RateLimit, RateLimiter, SessionManager, SessionPolicy
from .stats import RequestStats
from .world import SandboxWorld

SERVER_NAME = "glimmr-sandbox"
# Writes of this size keep per-chunk Python work negligible next to the kernel copy.
WRITE_CHUNK = 1 << 20
API_ROUTES = {"/facility/search", "/check", "/user/session", "/validate"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sandbox: "SandboxServer"):
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        """Stop idle keep-alive connections too, so a stopped sandbox really stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                connection.close()
            except OSError:
                pass


class SandboxServer:
    """A local PRA-compatible server over a `SandboxWorld`.

    >>> with SandboxServer(SandboxWorld(seed=1), port=0) as sandbox:
    ...     sandbox.url  # doctest: +SKIP
    'http://127.0.0.1:54321'
    """

    def __init__(
        self,
        world: SandboxWorld | None = None,
        host: str = "127.0.0.1",
        port: int = DEFAULT_SANDBOX_PORT,
        *,
        sessions: SessionPolicy | None = None,
        rate_limit: RateLimit | str | None = None,
        faults: FaultBook | None = None,
        public_url: str | None = None,
        log_requests: bool = False,
    ):
        self.world = world if world is not None else SandboxWorld()
        self.host = host
        self.requested_port = port
        self.sessions = SessionManager(sessions)
        self.rate_limiter = RateLimiter(rate_limit)
        self.faults = faults or FaultBook()
        self.stats = RequestStats()
        self.log_requests = log_requests
        self._public_url = public_url.rstrip("/") if public_url else None
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "SandboxServer":
        """Bind and serve from a background thread; returns once the socket is listening."""
        if self._httpd is not None:
            return self
        self._httpd = _Server((self.host, self.requested_port), self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sandbox-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_all_connections()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the sandbox is not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Base URL of the API (and of the mirror under /storage, the origins under /origin)."""
        if self._public_url:
            return self._public_url
        host = self.host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def storage_url(self) -> str:
        return f"{self.url}/storage"

    def env(self) -> dict[str, str]:
        """The environment a client needs to use this sandbox instead of the real index."""
        return {
            "GLIMMR_PRA_API_URL": self.url,
            "GLIMMR_PRA_STORAGE_URL": self.storage_url,
            "GLIMMR_PRA_SESSION_ID": self.sessions.policy.static_session_id,
        }

    # --- in-process scenario conveniences ------------------------------------------------------

    def set_fault(self, fileid: str | None = None, **switches: Any) -> dict[str, Any]:
        """Turn fault switches on for one file (or globally). `moved=True` moves the file."""
        moved = switches.pop("moved", False)
        result = self.faults.set(fileid, **switches) if switches else {}
        if moved:
            if fileid is None:
                raise ValueError("moved needs a fileid")
            result = {**result, "moved_to": self.url + self.world.move_file(fileid)}
        return result

    def clear_faults(self, fileid: str | None = None, *, everything: bool = True) -> None:
        if fileid is not None:
            self.faults.clear(fileid)
        else:
            self.faults.clear(everything=everything)

    def file_url(self, fileid: str) -> str:
        found = self.world.current_version(fileid)
        if found is None:
            raise KeyError(fileid)
        return self.url + found[0].origin_path

    def mirror_url(self, fileid: str) -> str:
        found = self.world.current_version(fileid)
        if found is None:
            raise KeyError(fileid)
        hosted = found[0]
        return f"{self.url}/storage/{hosted.project}/{hosted.mirror_object}"

    def config(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "storage_url": self.storage_url,
            "sessions": self.sessions.policy.to_json(),
            "rate_limit": str(self.rate_limiter.limit),
            "faults": self.faults.snapshot(),
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER_NAME
    sys_version = ""
    # Idle keep-alive connections end after this long without a request.
    timeout = 60
    server: _Server

    # --- plumbing ------------------------------------------------------------------------------

    @property
    def sandbox(self) -> SandboxServer:
        return self.server.sandbox

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle's algorithm and the
        # client's delayed ACK stall every small response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return SERVER_NAME

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.sandbox.log_requests:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _json_body(self) -> Any:
        raw = self._body
        if not raw.strip():
            return {}
        return json.loads(raw)

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json; charset=utf-8",
              headers: Iterable[tuple[str, str]] = ()) -> int:
        self.send_response(status)
        if body or status not in (204, 304):
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self._write(body)
        return len(body)

    def _send_json(self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> int:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return self._send(status, body, headers=headers)

    def _write(self, data: bytes | memoryview) -> None:
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        self._headers_sent = False
        split = urlsplit(self.path)
        path = unquote(split.path)
        self._query = parse_qs(split.query, keep_blank_values=True)
        try:
            # Read any body, even on GET, so the next request on this keep-alive connection parses.
            self._body = self._read_body()
            if path == "/_sandbox" or path.startswith("/_sandbox/"):
                self._admin(method, path)
            elif path.startswith("/storage/"):
                self._mirror(method, path)
            elif path.startswith("/origin/"):
                self._origin(method, path + (f"?{split.query}" if split.query else ""))
            else:
                self._api(method, path)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError, socket.timeout):
            self.close_connection = True
        except Exception:  # noqa: BLE001 - one bad request must not look like a dead server
            traceback.print_exc()
            self.close_connection = True
            if not self._headers_sent:
                self._send_json(500, {"error": "internal sandbox error"})

    def end_headers(self) -> None:
        self._headers_sent = True
        super().end_headers()

    def _query_value(self, name: str) -> str:
        values = self._query.get(name)
        return values[0] if values else ""

    # --- PRA index API -------------------------------------------------------------------------

    def _api(self, method: str, path: str) -> None:
        sandbox = self.sandbox
        route = self._api_route(path)
        if route is None:
            self._send_json(404, {"error": "not found"})
            sandbox.stats.record(method, "unknown", path, 404)
            return
        allowed, retry_after, ratelimit = sandbox.rate_limiter.acquire()
        headers = [("ratelimit", ratelimit)]
        if not allowed:
            self._send_json(429, {"error": "Too Many Requests"}, headers + [("Retry-After", str(retry_after))])
            sandbox.stats.record(method, route, path, 429)
            return
        failure = sandbox.faults.take_api_failure()
        if failure is not None:
            self._send_json(failure, {"error": HTTPStatus(failure).phrase}, headers + [("Retry-After", "1")])
            sandbox.stats.record(method, route, path, failure)
            return
        status, payload, extra = self._api_answer(method, route, path)
        self._send_json(status, payload, headers + extra)
        sandbox.stats.record(method, route, path, status)

    @staticmethod
    def _api_route(path: str) -> str | None:
        if path in API_ROUTES:
            return path
        for prefix in ("/facility/id/", "/file/link/"):
            if path.startswith(prefix) and len(path) > len(prefix):
                return prefix + "{id}"
        return None

    def _api_answer(self, method: str, route: str, path: str) -> tuple[int, Any, list[tuple[str, str]]]:
        sandbox = self.sandbox
        sessions = sandbox.sessions
        if route == "/check":
            if method not in ("GET", "HEAD"):
                return 405, {"error": "method not allowed"}, []
            return 200, {"ts": int(time.time() * 1000)}, []
        if route == "/user/session":
            if method != "POST":
                return 405, {"error": "method not allowed"}, []
            if not sessions.enabled("user_session"):
                return 404, {"error": "not found"}, []
            try:
                body = self._json_body()
            except json.JSONDecodeError:
                return 400, {"error": "body must be JSON"}, []
            username = body.get("username") if isinstance(body, dict) else None
            if not isinstance(username, str) or not username.isdigit():
                return 400, {"error": "username must be the client's epoch time in milliseconds"}, []
            session_id = sessions.create_user_session()
            return 200, {"sessionid": session_id}, [("sessionid", session_id)]
        if route == "/validate":
            if method != "POST":
                return 405, {"error": "method not allowed"}, []
            if not sessions.enabled("validate"):
                return 404, {"error": "not found"}, []
            token, expires = sessions.create_validate_token()
            return 200, {"sessionToken": token, "expires": expires}, []

        if method not in ("GET", "HEAD"):
            return 405, {"error": "method not allowed"}, []
        api_faults = sandbox.faults.api
        empty: Any = {} if route == "/file/link/{id}" or api_faults.empty_as_object else []
        if api_faults.empty_session_answers:
            return 200, empty, []
        authorization = sessions.authorize(self.headers)
        if not authorization.valid:
            return 200, empty, []
        extra = [("sessionid", authorization.new_session_id)] if authorization.new_session_id else []
        base = sandbox.url
        world = sandbox.world
        if route == "/facility/search":
            records = world.search(self._query_value("searchstate"), self._query_value("search"), base)
            return 200, records, extra
        identifier = path.rsplit("/", 1)[1]
        if route == "/facility/id/{id}":
            record = world.facility_record(identifier, base)
            return 200, [record] if record else [], extra
        link = world.file_link(identifier, base)
        return 200, {"url": link} if link else {}, extra

    # --- PRA mirror and hospital origins -------------------------------------------------------

    def _mirror(self, method: str, path: str) -> None:
        object_path = path[len("/storage/"):]
        fileid = self.sandbox.world.resolve_mirror(object_path)
        if fileid is None or method not in ("GET", "HEAD"):
            status = 404 if fileid is None else 405
            self._send(status, b"Not Found" if status == 404 else b"", "text/plain; charset=utf-8")
            self.sandbox.stats.record(method, "/storage/{object}", path, status)
            return
        status, sent = self._serve_file(method, fileid, "mirror")
        self.sandbox.stats.record(method, "/storage/{object}", path, status, fileid=fileid, where="mirror",
                                  bytes_sent=sent)

    def _origin(self, method: str, path: str) -> None:
        sandbox = self.sandbox
        target = sandbox.world.resolve_origin(path)
        if target is None or method not in ("GET", "HEAD"):
            status = 404 if target is None else 405
            body = b"<html><body><h1>404 Not Found</h1></body></html>" if status == 404 else b""
            self._send(status, body, "text/html; charset=utf-8")
            sandbox.stats.record(method, "/origin/{path}", path, status)
            return
        if target.kind == "redirect":
            location = sandbox.url + target.location
            body = f'<html><body>Moved: <a href="{location}">{location}</a></body></html>'.encode()
            self._send(target.status, body, "text/html; charset=utf-8", [("Location", location)])
            sandbox.stats.record(method, "/origin/{path}", path, target.status, fileid=target.fileid,
                                 where="origin")
            return
        if target.kind == "file":
            status, sent = self._serve_file(method, target.fileid, "origin")
            sandbox.stats.record(method, "/origin/{path}", path, status, fileid=target.fileid, where="origin",
                                 bytes_sent=sent)
            return
        site = sandbox.world.website(target.host, sandbox.url)
        if target.kind == "cms-hpt":
            blocks = [f"location-name: {entry['location']}\nsource-page-url: {entry['page']}\n"
                      f"mrf-url: {entry['mrf']}\ncontact-name: Price Transparency Office\n"
                      f"contact-email: pricing@{target.host.removeprefix('www.')}" for entry in site["entries"]]
            self._send(200, "\n\n".join(blocks).encode(), "text/plain; charset=utf-8")
        else:
            links = "".join(f'<li>{entry["location"]}: <a href="{entry["mrf"]}">standard charges</a></li>'
                            for entry in site["entries"])
            page = (site["entries"][0]["page"] if site["entries"]
                    else f"{sandbox.url}/origin/{target.host}/price-transparency/")
            body = (f"<html><head><title>{target.host}</title></head><body><h1>{target.host}</h1>"
                    f"<ul>{links}</ul><footer><a href=\"{page}\">Price Transparency</a></footer></body></html>")
            self._send(200, body.encode(), "text/html; charset=utf-8")
        sandbox.stats.record(method, "/origin/{path}", path, 200)

    def _serve_file(self, method: str, fileid: str, where: str) -> tuple[int, int]:
        """Serve one file version with faults, validators and ranges; returns (status, body bytes)."""
        sandbox = self.sandbox
        faults = sandbox.faults.effective(fileid, where)
        if faults.block_library_agents and is_library_agent(self.headers.get("User-Agent")):
            body = b"<html><body><h1>403 Forbidden</h1><p>Access denied.</p></body></html>"
            return 403, self._send(403, body, "text/html; charset=utf-8")
        if method == "HEAD" and faults.head_404:
            return 404, self._send(404, b"", "text/html; charset=utf-8")
        if method == "GET":
            failure = sandbox.faults.take_get_failure(fileid, faults)
            if failure is not None:
                body = f"<html><body><h1>{failure} {HTTPStatus(failure).phrase}</h1></body></html>".encode()
                return failure, self._send(failure, body, "text/html; charset=utf-8", [("Retry-After", "1")])

        found = sandbox.world.current_version(fileid)
        if found is None:
            return 404, self._send(404, b"Not Found", "text/plain; charset=utf-8")
        hosted, version = found
        spec = version.spec
        content_format = get_format(spec.format_name)
        etag = content_etag(spec)
        last_modified = version.published_at
        headers = [
            ("Last-Modified", http_date(last_modified)),
            ("Accept-Ranges", "bytes"),
            ("Cache-Control", "public, max-age=0"),
        ]
        if where == "origin":
            headers.append(("Content-Disposition", f'attachment; filename="{hosted.filename}"'))

        gzip_encoded = faults.gzip and accepts_gzip(self.headers.get("Accept-Encoding"))
        if faults.gzip:
            headers.append(("Vary", "Accept-Encoding"))
        if gzip_encoded:
            etag = etag[:-1] + '-gzip"'
        headers.append(("ETag", etag))

        if self._not_modified(etag, last_modified):
            self.send_response(304)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            return 304, 0

        if gzip_encoded and content_format.streaming:
            return self._serve_streaming_gzip(method, sandbox.world.store.content(spec), content_format.media_type,
                                              headers, faults, fileid)
        content: Content = (sandbox.world.store.gzipped(spec) if gzip_encoded
                            else sandbox.world.store.content(spec))
        if gzip_encoded:
            headers.append(("Content-Encoding", "gzip"))
        size = content.size
        status, start, end = 200, 0, size
        if self.headers.get("Range") is not None and if_range_allows(self.headers.get("If-Range"), etag,
                                                                      last_modified):
            try:
                wanted = parse_single_range(self.headers.get("Range"), size)
            except RangeNotSatisfiable:
                self._send(416, b"", "text/plain; charset=utf-8", [("Content-Range", f"bytes */{size}"), *headers])
                return 416, 0
            if wanted is not None:
                status, (start, end) = 206, wanted
                headers.append(("Content-Range", f"bytes {start}-{end - 1}/{size}"))

        self.send_response(status)
        self.send_header("Content-Type", content_format.media_type)
        self.send_header("Content-Length", str(end - start))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if method == "HEAD":
            return status, 0
        limit = sandbox.faults.take_truncation(fileid, faults)
        sent = self._write_body(content.iter_range(start, end), limit, faults.drip_bytes_per_second)
        if sent < end - start:
            # The body stopped short of its declared length: the only honest end is closing.
            self.close_connection = True
        return status, sent

    def _not_modified(self, etag: str, last_modified: float) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return none_match(if_none_match, etag)
        since = parse_http_date(self.headers.get("If-Modified-Since"))
        return since is not None and int(last_modified) <= int(since)

    def _write_body(self, chunks: Iterator[bytes | memoryview], limit: int | None, drip: int | None) -> int:
        sent = 0
        started = time.monotonic()
        for chunk in chunks:
            if limit is not None and sent + len(chunk) > limit:
                chunk = chunk[: max(limit - sent, 0)]
            if drip:
                # Small pieces on a schedule: the body arrives at `drip` bytes per second.
                piece = max(1, drip // 20)
                view = memoryview(chunk)
                for offset in range(0, len(view), piece):
                    part = view[offset:offset + piece]
                    due = started + (sent + len(part)) / drip
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    self._write(part)
                    sent += len(part)
            else:
                for offset in range(0, len(chunk), WRITE_CHUNK):
                    part = chunk[offset:offset + WRITE_CHUNK]
                    self._write(part)
                    sent += len(part)
            if limit is not None and sent >= limit:
                break
        return sent

    def _serve_streaming_gzip(self, method: str, content: Content, media_type: str,
                              headers: list[tuple[str, str]], faults: FileFaults, fileid: str) -> tuple[int, int]:
        """Gzip a streamed file on the fly: no Content-Length is known, so the body is chunked."""
        self.send_response(200)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Encoding", "gzip")
        for name, value in headers:
            if name != "Accept-Ranges":
                self.send_header(name, value)
        self.send_header("Accept-Ranges", "none")
        if method == "HEAD":
            self.end_headers()
            return 200, 0
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
        limit = self.sandbox.faults.take_truncation(fileid, faults)
        sent = 0

        def emit(data: bytes) -> None:
            nonlocal sent
            if data:
                self._write(b"%x\r\n" % len(data) + data + b"\r\n")
                sent += len(data)

        for chunk in content.iter_range(0, content.size):
            emit(compressor.compress(chunk))
            if limit is not None and sent >= limit:
                self.close_connection = True
                return 200, sent
        emit(compressor.flush())
        self._write(b"0\r\n\r\n")
        return 200, sent

    # --- admin ---------------------------------------------------------------------------------

    def _admin(self, method: str, path: str) -> None:
        try:
            status, payload = self._admin_answer(method, path)
        except json.JSONDecodeError:
            status, payload = 400, {"error": "body must be JSON"}
        except KeyError as error:
            status, payload = 404, {"error": str(error.args[0]) if error.args else "not found"}
        except (ValueError, TypeError) as error:
            status, payload = 400, {"error": str(error)}
        self._send_json(status, payload)

    def _admin_answer(self, method: str, path: str) -> tuple[int, Any]:
        sandbox = self.sandbox
        world = sandbox.world
        route = path[len("/_sandbox"):].rstrip("/") or "/"
        body = self._json_body() if method in ("POST", "PUT", "DELETE") else {}
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")

        if route == "/" and method == "GET":
            return 200, {"routes": ADMIN_ROUTES}
        if route == "/health" and method == "GET":
            return 200, {"ok": True, "url": sandbox.url, "seed": world.seed,
                         "facilities": sum(1 for f in world.facilities.values() if not f.removed),
                         "files": len(world.files)}
        if route == "/world" and method == "GET":
            return 200, {**world.summary(), "server": sandbox.config()}
        if route == "/config" and method == "GET":
            return 200, sandbox.config()
        if route == "/stats" and method == "GET":
            fileid = self._query_value("fileid")
            return 200, ({"fileid": fileid, **sandbox.stats.file(fileid)} if fileid else sandbox.stats.snapshot())
        if route == "/stats/reset" and method == "POST":
            sandbox.stats.reset()
            return 200, {"ok": True}
        if route == "/faults" and method == "GET":
            return 200, sandbox.faults.snapshot()
        if route == "/faults" and method == "POST":
            fileid = body.get("fileid")
            switches = body.get("faults", {})
            if not isinstance(switches, dict):
                raise ValueError("faults must be an object")
            if fileid is not None and fileid not in world.files:
                raise KeyError(f"unknown fileid {fileid}")
            return 200, {"fileid": fileid, "faults": sandbox.set_fault(fileid, **switches)}
        if (route == "/faults/clear" and method == "POST") or (route == "/faults" and method == "DELETE"):
            fileid = body.get("fileid")
            if fileid is not None:
                sandbox.faults.clear(fileid)
            else:
                sandbox.faults.clear(everything=not body.get("global_only", False))
            return 200, sandbox.faults.snapshot()
        if route == "/formats" and method == "GET":
            return 200, {"formats": describe_formats()}
        if route == "/publish" and method == "POST":
            format_name = body.get("format")
            if format_name is not None and not isinstance(format_name, str):
                raise ValueError("format must be a format name (GET /_sandbox/formats)")
            published = world.publish(body.get("fileids"), fraction=body.get("fraction"), at=body.get("at"),
                                      selection_seed=body.get("seed"), format=format_name)
            return 200, {"published": published}
        if route == "/facilities" and method == "POST":
            added = world.add_facilities(str(body.get("state", "")), int(body.get("count", 1)), at=body.get("at"))
            return 200, {"added": added,
                         "facilities": [world.facility_record(fid, sandbox.url) for fid in added]}
        if route == "/facilities/remove" and method == "POST":
            ids = body.get("ids")
            if not isinstance(ids, list):
                raise ValueError("ids must be a list of facility ids")
            return 200, {"removed": world.remove_facilities(ids)}
        if route.startswith("/facilities/") and method == "DELETE":
            return 200, {"removed": world.remove_facilities([route.rsplit("/", 1)[1]])}
        if route == "/large-file" and method == "POST":
            if "size" not in body:
                raise ValueError("size (bytes) is required")
            result = world.add_large_file(int(body["size"]), fileid=body.get("fileid"),
                                          facility_id=body.get("facility_id"), state=body.get("state"),
                                          cms_version=str(body.get("cms_version", "3.0")), at=body.get("at"),
                                          kind=str(body.get("kind", "csv")))
            return 200, {**result, "url": sandbox.url + result.pop("path"),
                         "mirror_url": sandbox.url + result.pop("mirror_path")}
        if route == "/move" and method == "POST":
            fileid = body.get("fileid")
            if not fileid:
                raise ValueError("fileid is required")
            return 200, {"fileid": fileid, "url": sandbox.url + world.move_file(fileid)}
        if route.startswith("/file/") and method == "GET":
            info = world.file_info(route[len("/file/"):], sandbox.url)
            if info is None:
                raise KeyError(f"unknown fileid {route[len('/file/'):]}")
            return 200, info
        if route == "/sessions" and method == "GET":
            return 200, sandbox.sessions.policy.to_json()
        if route == "/sessions" and method == "POST":
            allowed = {"schemes", "static_session_id", "ttl_seconds", "max_requests", "rotate_every"}
            unknown = set(body) - allowed
            if unknown:
                raise ValueError(f"unknown session setting(s): {', '.join(sorted(unknown))}")
            return 200, sandbox.sessions.update_policy(**body).to_json()
        if route == "/sessions/expire" and method == "POST":
            return 200, {"expired": sandbox.sessions.expire_all()}
        if route == "/rate-limit" and method == "GET":
            return 200, {"limit": str(sandbox.rate_limiter.limit)}
        if route == "/rate-limit" and method == "POST":
            return 200, {"limit": str(sandbox.rate_limiter.configure(body.get("limit")))}
        return 404, {"error": f"no admin route {method} {path}", "routes": ADMIN_ROUTES}


ADMIN_ROUTES = {
    "GET /_sandbox/health": "liveness: {ok, url, seed, facilities, files}",
    "GET /_sandbox/world": "summary of the world and the server configuration",
    "GET /_sandbox/config": "server configuration (sessions, rate limit, faults)",
    "GET /_sandbox/stats[?fileid=]": "request counts per route, path and fileid",
    "POST /_sandbox/stats/reset": "zero the request counts",
    "GET /_sandbox/faults": "current fault switches",
    "POST /_sandbox/faults": '{"fileid"?: str, "faults": {switch: value, "moved"?: true}}',
    "POST /_sandbox/faults/clear": '{"fileid"?: str, "global_only"?: bool}; DELETE /_sandbox/faults clears all',
    "GET /_sandbox/formats": "every file format the sandbox can serve: name, family, suffix, CMS version, ...",
    "POST /_sandbox/publish": '{"fileids": [...]} or {"fraction": 0.1, "seed"?: int}, "at"?: epoch seconds, '
                              '"format"?: a format name',
    "POST /_sandbox/facilities": '{"state": "CA", "count": 2}',
    "POST /_sandbox/facilities/remove": '{"ids": [...]}; or DELETE /_sandbox/facilities/{id}',
    "POST /_sandbox/large-file": '{"size": bytes, "fileid"?, "facility_id"?, "state"?, "cms_version"?: "3.0", '
                                 '"kind"?: "csv" | "json"}',
    "POST /_sandbox/move": '{"fileid": str}: new origin URL, the old one 404s',
    "GET /_sandbox/file/{fileid}": "one file: versions, URLs, size, ETag, listing facilities",
    "GET|POST /_sandbox/sessions": '{"schemes"?, "static_session_id"?, "ttl_seconds"?, "max_requests"?, '
                                    '"rotate_every"?}',
    "POST /_sandbox/sessions/expire": "end every session",
    "GET|POST /_sandbox/rate-limit": '{"limit": "100/180" | "off"}',
}
