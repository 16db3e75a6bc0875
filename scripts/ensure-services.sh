#!/usr/bin/env bash
# Install what the test suite's real services need when the machine lacks it.
# The tests start and stop their own PostgreSQL cluster and S3 server; this only installs binaries.
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

if ! have_postgres || ! command -v runuser >/dev/null 2>&1; then
  echo "installing PostgreSQL (apt-get) for the test suite's catalog tests"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql util-linux >/dev/null
fi

# PostgreSQL refuses to run as root; the suite runs it as the `postgres` user when it is root.
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi
