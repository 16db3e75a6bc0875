"""Real services for tests: a PostgreSQL server on loopback, started and stopped by the suite.

`scripts/ensure-services.sh` (run by `make test`) installs PostgreSQL on a machine that lacks
it; here we only find the binaries and run a throwaway cluster in a temporary directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed; run scripts/ensure-services.sh (apt-get install postgresql)"
        )
    return candidates[-1]


@dataclass
class PostgresServer:
    root: Path
    port: int
    process_user: str | None

    @property
    def url(self) -> str:
        # A plain URL, as users write it: the catalog picks the driver the project ships.
        return f"postgresql://glimmr@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", self.process_user, "--"] if self.process_user else []
        subprocess.run(prefix + list(args), check=True, capture_output=True, text=True)

    def create_database(self, name: str) -> str:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url.replace("postgresql://", "postgresql+psycopg2://"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        try:
            self._run(_postgres_bin("pg_ctl"), "-D", str(self.root / "pg"), "stop", "-m", "fast")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """initdb + pg_ctl start in a temp dir; the server refuses to run as root, so use `postgres`."""
    root = Path(tempfile.mkdtemp(prefix="glimmr-pg-"))
    user = "postgres" if os.geteuid() == 0 else None
    if user:
        shutil.chown(root, user=user)
    server = PostgresServer(root=root, port=free_port(), process_user=user)
    server._run(_postgres_bin("initdb"), "-D", str(root / "pg"), "-A", "trust", "-U", "glimmr")
    server._run(
        _postgres_bin("pg_ctl"),
        "-D", str(root / "pg"),
        "-o", f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
        "-l", str(root / "log"),
        "start", "-w",
    )
    return server
