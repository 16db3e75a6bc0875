"""Start the bundled PRA sandbox as a child process, or reuse one already listening."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx


class SandboxProcess:
    """The sandbox on a fixed port, so file URLs stay the same from one demo to the next."""

    def __init__(
        self,
        port: int,
        *,
        hospitals: int | None = None,
        seed: int | None = None,
        state_file: Path | None = None,
        log_file: Path | None = None,
        host: str = "127.0.0.1",
    ):
        self.host = host
        self.port = port
        self.hospitals = hospitals
        self.seed = seed
        self.state_file = state_file
        self.log_file = log_file
        self.process: subprocess.Popen | None = None
        self.reused = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/_sandbox/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 120.0) -> "SandboxProcess":
        if self.healthy():
            self.reused = True
            return self
        command = [sys.executable, "-m", "glimmr_dagster.sandbox", "--host", self.host, "--port", str(self.port)]
        if self.hospitals is not None:
            command += ["--hospitals", str(self.hospitals)]
        if self.seed is not None:
            command += ["--seed", str(self.seed)]
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            command += ["--state-file", str(self.state_file)]
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()
            )
        finally:
            if self.log_file:
                log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the PRA sandbox exited with code {self.process.returncode} before it was ready "
                    f"(port {self.port} in use by something else?); see {self.log_file or 'its output'}"
                )
            if self.healthy():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the PRA sandbox did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "SandboxProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
