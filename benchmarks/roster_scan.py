"""A full 51-state scan of a national-scale sandbox through the project's scan code.

Baseline: the original system's published figure, 6,675 hospitals in 180 s. Target: < 10 s.
The sandbox runs in its own process with its rate limit off, so the figure is the scan code's
(HTTP, parsing, catalog writes), not the index's politeness limit.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from glimmr_dagster.commands.sandbox_process import SandboxProcess
from glimmr_dagster.lib.catalog import Catalog
from glimmr_dagster.lib.pra.client import PraClient
from glimmr_dagster.lib.ratelimit import NoLimit
from glimmr_dagster.lib.roster import scan_state
from glimmr_dagster.lib.settings import PraSettings, RateLimit
from glimmr_dagster.lib.states import STATE_CODES

from .common import free_port, heading, peak_rss_mb, row, timed

BASELINE_HOSPITALS = 6675
BASELINE_SECONDS = 180.0
TARGET_SECONDS = 10.0


def scan_all(catalog: Catalog, client: PraClient) -> tuple[int, int]:
    hospitals = files = 0
    for state in STATE_CODES:
        changes = scan_state(catalog, client, state).changes
        hospitals += changes.hospitals
        files += changes.files_listed
    return hospitals, files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hospitals", type=int, default=BASELINE_HOSPITALS)
    args = parser.parse_args(argv)

    heading(f"PRA roster scan: 51 states, {args.hospitals} sandbox hospitals, rate limit off")
    with tempfile.TemporaryDirectory(prefix="glimmr-bench-") as work:
        sandbox = SandboxProcess(free_port(), hospitals=args.hospitals, log_file=Path(work) / "sandbox.log")
        with timed() as startup:
            sandbox.start()
        try:
            settings = PraSettings(
                api_url=sandbox.url, storage_url=f"{sandbox.url}/storage", rate_limit=RateLimit.parse("off")
            )
            # The sandbox sizes its files on first listing; do that outside the timing, so the
            # figure is the project's scan (HTTP, parsing, catalog), not the sandbox's generator.
            with timed() as warm_up, PraClient(settings, limiter=NoLimit()) as warm_client:
                for state in STATE_CODES:
                    warm_client.search_state(state)
            catalog = Catalog(f"sqlite:///{work}/catalog.sqlite")
            with PraClient(settings, limiter=NoLimit()) as client:
                with timed() as first:
                    hospitals, files = scan_all(catalog, client)
                with timed() as again:
                    scan_all(catalog, client)
                requests = client.requests_sent
            catalog.dispose()
        finally:
            sandbox.stop()

    per_second = hospitals / first["seconds"]
    baseline_rate = BASELINE_HOSPITALS / BASELINE_SECONDS
    row("sandbox start-up (not counted)", f"{startup['seconds']:.2f} s")
    row("sandbox warm-up listing (not counted)", f"{warm_up['seconds']:.2f} s")
    row("first scan (all new)", f"{first['seconds']:.2f} s for {hospitals} hospitals, {files} files")
    row("hospitals per second", f"{per_second:,.0f} (baseline {baseline_rate:.1f}/s: {per_second / baseline_rate:.0f}x)")
    row("ratio to baseline 180 s", f"{first['seconds'] / BASELINE_SECONDS:.3f}")
    row("target", f"< {TARGET_SECONDS:.0f} s: {'met' if first['seconds'] < TARGET_SECONDS else 'MISSED'}")
    row("rescan (nothing changed)", f"{again['seconds']:.2f} s")
    row("PRA requests (both scans)", str(requests))
    row("peak memory of the scanning process", f"{peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
