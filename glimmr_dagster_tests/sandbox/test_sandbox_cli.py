"""The sandbox command line, run as `python -m glimmr_dagster.sandbox` in a real process."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from glimmr_dagster.lib.settings import DEFAULT_SANDBOX_PORT
from glimmr_dagster.sandbox.cli import add_arguments, run


def start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env_file = tmp_path / "sandbox.env"
    process = subprocess.Popen(
        [sys.executable, "-m", "glimmr_dagster.sandbox", "--port", "0", "--env-file", str(env_file), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while not env_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"sandbox did not start: {process.communicate()}")
        time.sleep(0.05)
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    return process, env


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_until_signalled_and_exits_cleanly(tmp_path: Path, signum: int) -> None:
    state_file = tmp_path / "state.jsonl"
    process, env = start(tmp_path, "--seed", "5", "--hospitals", "80", "--state-file", str(state_file),
                         "--rate-limit", "100/180", "--static-session-id", "demo-session")
    try:
        api_url = env["GLIMMR_PRA_API_URL"]
        assert env["GLIMMR_PRA_STORAGE_URL"] == f"{api_url}/storage"
        assert env["GLIMMR_PRA_SESSION_ID"] == "demo-session"
        with httpx.Client(base_url=api_url, headers={"sessionid": "demo-session"}) as client:
            assert client.get("/_sandbox/health").json()["facilities"] == 80
            response = client.get("/facility/search", params={"searchstate": "CA"})
            assert response.json() != [] and response.headers["ratelimit"].startswith("limit=100")
            assert client.get("/_sandbox/world").json()["server"]["rate_limit"] == "100/180"
    finally:
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert f"GLIMMR_PRA_API_URL={api_url}" in stdout
    assert "stopped" in stdout
    assert not (tmp_path / "sandbox.env").exists()
    assert state_file.exists()


def test_print_env_without_serving() -> None:
    result = subprocess.run([sys.executable, "-m", "glimmr_dagster.sandbox", "--port", "9911", "--print-env"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "GLIMMR_PRA_API_URL=http://127.0.0.1:9911\n" in result.stdout
    assert "GLIMMR_PRA_STORAGE_URL=http://127.0.0.1:9911/storage\n" in result.stdout


def test_defaults_and_bad_options() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    defaults = parser.parse_args([])
    assert defaults.port == DEFAULT_SANDBOX_PORT == 8765
    assert defaults.hospitals == 64 and defaults.rate_limit == "off"
    assert parser.parse_args(["--national"]).hospitals == 6675
    assert defaults.failing_files is False and parser.parse_args(["--failing-files"]).failing_files is True
    assert run(parser.parse_args(["--rate-limit", "lots"])) == 2
    assert run(parser.parse_args(["--session-schemes", "carrier-pigeon"])) == 2
    assert run(parser.parse_args(["--port", "0", "--print-env"])) == 2


def test_state_file_mismatch_is_reported(tmp_path: Path) -> None:
    state_file = tmp_path / "state.jsonl"
    state_file.write_text('{"op": "world", "format": 1, "seed": 1, "hospitals": 64}\n')
    result = subprocess.run([sys.executable, "-m", "glimmr_dagster.sandbox", "--port", "0", "--seed", "2",
                             "--state-file", str(state_file)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "seed=1" in result.stderr
