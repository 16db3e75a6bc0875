"""`glimmr demo`: the whole pipeline against the bundled PRA sandbox, offline, with a summary.

Runs are real Dagster runs recorded in the instance under DAGSTER_HOME, so `make dev` afterwards
shows them, their partitions and their metadata. Running the demo again reuses the instance,
the catalog and the sandbox's saved scenario: what did not change shows as unchanged.
"""

from __future__ import annotations

import os
import time

import dagster as dg
import httpx
import sqlalchemy as sa

from ..lib.settings import load_settings
from .instance_setup import prepare
from .sandbox_process import SandboxProcess
from .runs import RunOutcome, run_changed_hospitals, run_state_scans

# The sandbox is local: no need to keep to the real index's politeness limit.
SANDBOX_RATE_LIMIT = "6000/60"


def sandbox_environment(url: str) -> dict[str, str]:
    return {
        "GLIMMR_PRA_API_URL": url,
        "GLIMMR_PRA_STORAGE_URL": f"{url}/storage",
        "GLIMMR_PRA_RATE_LIMIT": os.environ.get("GLIMMR_PRA_RATE_LIMIT", SANDBOX_RATE_LIMIT),
    }


ROSTER, FILES, CHARGES = "hospital_roster", "hospital_price_files", "hospital_standard_charges"


def _sum(outcomes: list[RunOutcome], asset: str, name: str) -> int:
    return sum(outcome.value(asset, name) for outcome in outcomes)


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _catalog_has_hospitals(settings) -> bool:
    from ..lib.catalog import Catalog
    from ..lib.catalog.schema import hospitals

    catalog = Catalog(settings.catalog_url)
    try:
        with catalog.read() as conn:
            return conn.execute(sa.select(hospitals.c.hospital_key).limit(1)).first() is not None
    finally:
        catalog.dispose()


def _prices_now(settings) -> list[dict]:
    from ..lib.catalog import Catalog
    from ..lib.standard_charges import current_price_files

    catalog = Catalog(settings.catalog_url)
    try:
        return current_price_files(catalog)
    finally:
        catalog.dispose()


def _publish_in_sandbox(url: str, fraction: float) -> int:
    """Stand in for hospitals updating their files between two demos."""
    response = httpx.post(f"{url}/_sandbox/publish", json={"fraction": fraction}, timeout=30)
    response.raise_for_status()
    return len(response.json()["published"])


def _report_runs(title: str, outcomes: list[RunOutcome], seconds: float) -> list[RunOutcome]:
    failed = [outcome for outcome in outcomes if not outcome.success]
    print(f"{title}: {len(outcomes)} runs ({len(outcomes) - len(failed)} succeeded, {len(failed)} failed) "
          f"in {_seconds(seconds)}")
    return failed


def run_demo(*, port: int, hospitals: int | None, seed: int | None, publish_fraction: float) -> int:
    began = time.perf_counter()
    settings = load_settings()
    setup = prepare(settings)
    os.environ["DAGSTER_HOME"] = str(setup.dagster_home)
    rerun = _catalog_has_hospitals(settings)
    setup_seconds = time.perf_counter() - began

    print("glimmr demo: the pipeline against the bundled PRA sandbox, offline")
    print(f"  data directory  {setup.data_dir}")
    print(f"  DAGSTER_HOME    {setup.dagster_home}")

    sandbox = SandboxProcess(
        port,
        hospitals=hospitals,
        seed=seed,
        state_file=settings.data_dir / "sandbox" / "scenario.jsonl",
        log_file=settings.data_dir / "sandbox" / "sandbox.log",
    )
    sandbox_began = time.perf_counter()
    with sandbox:
        sandbox_seconds = time.perf_counter() - sandbox_began
        how = "reused, already running" if sandbox.reused else f"started in {_seconds(sandbox_seconds)}"
        print(f"  PRA sandbox     {sandbox.url} ({how})")
        if rerun and publish_fraction > 0:
            published = _publish_in_sandbox(sandbox.url, publish_fraction)
            print(f"  this is a rerun: {published} files republished in the sandbox, as hospitals do")
        os.environ.update(sandbox_environment(sandbox.url))

        # Definitions are built after the environment points at the sandbox.
        from ..definitions import build_definitions

        defs = build_definitions(load_settings())
        states = load_settings().scan_states
        with dg.DagsterInstance.get() as instance:
            scan_began = time.perf_counter()
            scans = run_state_scans(defs, instance, states, trigger="demo", quiet=True)
            scan_seconds = time.perf_counter() - scan_began
            files_began = time.perf_counter()
            hospital_runs = run_changed_hospitals(defs, instance, quiet=True)
            files_seconds = time.perf_counter() - files_began
            partitions = len(instance.get_dynamic_partitions("hospitals"))
        current = _prices_now(settings)

    print()
    failed = _report_runs(f"PRA scan of {len(states)} states", scans, scan_seconds)
    print(f"  hospitals found      {_sum(scans, ROSTER, 'hospitals')} (new {_sum(scans, ROSTER, 'new')}, changed "
          f"{_sum(scans, ROSTER, 'changed')}, removed {_sum(scans, ROSTER, 'removed')}, unchanged "
          f"{_sum(scans, ROSTER, 'unchanged')}; {_sum(scans, ROSTER, 'skipped')} records skipped)")
    print(f"  price files listed   {_sum(scans, ROSTER, 'files_listed')} (new {_sum(scans, ROSTER, 'files_new')}, "
          f"changed {_sum(scans, ROSTER, 'files_changed')}, unchanged {_sum(scans, ROSTER, 'files_unchanged')}, "
          f"removed {_sum(scans, ROSTER, 'files_removed')})")
    print(f"  hospital partitions  {partitions}")
    failed += _report_runs("Hospitals with new or changed files (change sensor)", hospital_runs, files_seconds)
    print(f"  downloads            new {_sum(hospital_runs, FILES, 'files_new')}, changed "
          f"{_sum(hospital_runs, FILES, 'files_changed')}, unchanged {_sum(hospital_runs, FILES, 'files_unchanged')}, "
          f"failed {_sum(hospital_runs, FILES, 'files_failed')}, reused from another hospital "
          f"{_sum(hospital_runs, FILES, 'files_reused')}; {_sum(hospital_runs, FILES, 'bytes'):,} bytes")
    print(f"  parsed into the lake files {_sum(hospital_runs, CHARGES, 'files_parsed')} parsed, "
          f"{_sum(hospital_runs, CHARGES, 'files_reused')} reused, {_sum(hospital_runs, CHARGES, 'files_failed')} "
          f"failed; rows read {_sum(hospital_runs, CHARGES, 'rows_read'):,}, written "
          f"{_sum(hospital_runs, CHARGES, 'rows_written'):,}, rejected {_sum(hospital_runs, CHARGES, 'rows_rejected'):,}")
    print(f"  prices now           {len(current)} Parquet files, {sum(f['rows_written'] for f in current):,} rows "
          f"under {settings.lake_dir}")
    for outcome in failed:
        print(f"  FAILED {outcome.partition_key} (run {outcome.run_id}): {outcome.error}")
    print()
    total = time.perf_counter() - began
    per_run = (scan_seconds + files_seconds) / max(len(scans) + len(hospital_runs), 1)
    print(f"Timings: setup {_seconds(setup_seconds)}, sandbox {_seconds(sandbox_seconds)}, "
          f"scan {_seconds(scan_seconds)}, hospital runs {_seconds(files_seconds)} "
          f"({per_run:.2f} s per run), total {_seconds(total)}")
    print("Open the Dagster UI on this instance and data with: make dev")
    return 0 if not failed else 1
