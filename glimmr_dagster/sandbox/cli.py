"""Command line of the sandbox: `glimmr sandbox ...` or `python -m glimmr_dagster.sandbox ...`.

The project's CLI builds its `sandbox` subcommand from `add_arguments` and `run`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from glimmr_dagster.lib.settings import DEFAULT_SANDBOX_PORT

from .persistence import StateFileMismatch
from .server import SandboxServer
from .sessions import DEFAULT_STATIC_SESSION_ID, SCHEMES, RateLimit, SessionPolicy
from .world import DEFAULT_HOSPITALS, DEFAULT_SEED, NATIONAL_HOSPITALS, SandboxWorld

DESCRIPTION = (
    "Run a local server that speaks the Patient Rights Advocate index API and serves generated "
    "hospital price files, with fault switches and scenario control under /_sandbox/."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_SANDBOX_PORT,
                        help="port to listen on; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--hospitals", type=int, default=DEFAULT_HOSPITALS,
                        help=f"facilities to generate (default: %(default)s; {NATIONAL_HOSPITALS} for national scale)")
    parser.add_argument("--national", dest="hospitals", action="store_const", const=NATIONAL_HOSPITALS,
                        help=f"shorthand for --hospitals {NATIONAL_HOSPITALS}")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="world seed (default: %(default)s)")
    parser.add_argument("--failing-files", action="store_true",
                        help="add a few files that cannot succeed (HTML page, empty body, zip-slip, zip bomb)")
    parser.add_argument("--state-file", type=Path, default=None,
                        help="log of scenario operations, replayed at startup so a restart shows the same world")
    parser.add_argument("--rate-limit", default="off",
                        help="API calls per window, e.g. 100/180, or 'off' (default: %(default)s)")
    parser.add_argument("--session-schemes", default=",".join(SCHEMES),
                        help="accepted session schemes, comma-separated, from: " + ", ".join(SCHEMES)
                        + " (default: all)")
    parser.add_argument("--static-session-id", default=DEFAULT_STATIC_SESSION_ID,
                        help="value the static scheme accepts in the sessionid header (default: %(default)s)")
    parser.add_argument("--session-ttl", type=float, default=3600.0,
                        help="seconds a session lives; 0 for no limit (default: %(default)s)")
    parser.add_argument("--session-max-requests", type=int, default=0,
                        help="API calls a session serves; 0 for no limit (default: %(default)s)")
    parser.add_argument("--session-rotate-every", type=int, default=0,
                        help="every Nth call of a user session answers with a new sessionid header; 0: never")
    parser.add_argument("--public-url", default=None,
                        help="base URL to advertise in records, when clients reach the sandbox through another name")
    parser.add_argument("--print-env", action="store_true",
                        help="print the environment a client needs (KEY=VALUE lines) and exit without serving")
    parser.add_argument("--env-file", type=Path, default=None,
                        help="write the client environment (KEY=VALUE lines) here once listening; removed on exit")
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")


def _session_policy(args: argparse.Namespace) -> SessionPolicy:
    schemes = tuple(scheme.strip() for scheme in args.session_schemes.split(",") if scheme.strip())
    return SessionPolicy(
        schemes=schemes,
        static_session_id=args.static_session_id,
        ttl_seconds=args.session_ttl if args.session_ttl > 0 else None,
        max_requests=args.session_max_requests or None,
        rotate_every=args.session_rotate_every or None,
    )


def _env_lines(env: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in env.items())


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)


def run(args: argparse.Namespace) -> int:
    try:
        policy = _session_policy(args)
        rate_limit = RateLimit.parse(args.rate_limit)
    except ValueError as error:
        print(f"glimmr sandbox: {error}", file=sys.stderr)
        return 2

    if args.print_env:
        if args.port == 0 and not args.public_url:
            print("glimmr sandbox: --print-env needs a fixed --port (or --public-url)", file=sys.stderr)
            return 2
        server = SandboxServer(SandboxWorld(args.seed, 0), args.host, args.port, sessions=policy,
                               public_url=args.public_url or _static_url(args.host, args.port))
        sys.stdout.write(_env_lines(server.env()))
        return 0

    try:
        world = SandboxWorld(args.seed, args.hospitals, state_file=args.state_file,
                             failing_files=args.failing_files)
    except StateFileMismatch as error:
        print(f"glimmr sandbox: {error}", file=sys.stderr)
        return 2
    server = SandboxServer(world, args.host, args.port, sessions=policy, rate_limit=rate_limit,
                           public_url=args.public_url, log_requests=args.log_requests)
    try:
        server.start()
    except OSError as error:
        print(f"glimmr sandbox: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1

    stop = threading.Event()
    previous_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous_handlers[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        summary = world.summary()
        print(f"glimmr sandbox: {summary['facilities']} facilities, {summary['listed_files']} files, "
              f"seed {world.seed}{', with failing files' if world.failing_files else ''}, listening on {server.url}"
              + (f" (replayed {world.replayed_ops} operations from {args.state_file})" if args.state_file else ""),
              flush=True)
        sys.stdout.write(_env_lines(server.env()))
        sys.stdout.flush()
        if args.env_file:
            _write_atomically(args.env_file, _env_lines(server.env()))
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        if args.env_file:
            args.env_file.unlink(missing_ok=True)
        print("glimmr sandbox: stopped", flush=True)
    return 0


def _static_url(host: str, port: int) -> str:
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m glimmr_dagster.sandbox", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))
