"""`glimmr demo`: the whole pipeline against the bundled PRA sandbox, offline, with a summary.

Runs are real Dagster runs recorded in the instance under DAGSTER_HOME, so `make dev` afterwards
shows them, their partitions and their metadata. Running the demo again reuses the instance,
the catalog and the sandbox's saved scenario: what did not change shows as unchanged.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import dagster as dg

from ..lib.settings import load_settings
from .instance_setup import prepare
from .sandbox_process import SandboxProcess
from .scan import StateRun, run_state_scans

# The sandbox is local: no need to keep to the real index's politeness limit.
SANDBOX_RATE_LIMIT = "6000/60"


def sandbox_environment(url: str) -> dict[str, str]:
    return {
        "GLIMMR_PRA_API_URL": url,
        "GLIMMR_PRA_STORAGE_URL": f"{url}/storage",
        "GLIMMR_PRA_RATE_LIMIT": os.environ.get("GLIMMR_PRA_RATE_LIMIT", SANDBOX_RATE_LIMIT),
    }


@dataclass
class Totals:
    runs: int = 0
    succeeded: int = 0
    hospitals: int = 0
    new: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    files_listed: int = 0
    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0

    @classmethod
    def of(cls, runs: list[StateRun]) -> "Totals":
        totals = cls(runs=len(runs), succeeded=sum(run.success for run in runs))
        for run in runs:
            for name in vars(totals):
                if name not in ("runs", "succeeded"):
                    setattr(totals, name, getattr(totals, name) + int(run.metadata.get(name, 0) or 0))
        return totals


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def run_demo(*, port: int, hospitals: int | None, seed: int | None) -> int:
    began = time.perf_counter()
    settings = load_settings()
    setup = prepare(settings)
    os.environ["DAGSTER_HOME"] = str(setup.dagster_home)
    setup_seconds = time.perf_counter() - began

    print("glimmr demo: the pipeline against the bundled PRA sandbox, offline")
    print(f"  data directory  {setup.data_dir}")
    print(f"  DAGSTER_HOME    {setup.dagster_home}")

    sandbox = SandboxProcess(
        port,
        hospitals=hospitals,
        seed=seed,
        state_file=settings.data_dir / "sandbox" / "scenario.json",
        log_file=settings.data_dir / "sandbox" / "sandbox.log",
    )
    sandbox_began = time.perf_counter()
    with sandbox:
        sandbox_seconds = time.perf_counter() - sandbox_began
        how = "reused, already running" if sandbox.reused else f"started in {_seconds(sandbox_seconds)}"
        print(f"  PRA sandbox     {sandbox.url} ({how})")
        os.environ.update(sandbox_environment(sandbox.url))

        # Definitions are built after the environment points at the sandbox.
        from ..definitions import build_definitions

        defs = build_definitions(load_settings())
        states = load_settings().scan_states
        scan_began = time.perf_counter()
        with dg.DagsterInstance.get() as instance:
            runs = run_state_scans(defs, instance, states, trigger="demo")
            partitions = len(instance.get_dynamic_partitions("hospitals"))
        scan_seconds = time.perf_counter() - scan_began

    totals = Totals.of(runs)
    failed = [run for run in runs if not run.success]
    print()
    print(f"PRA scan: {len(states)} states scanned in {totals.runs} runs "
          f"({totals.succeeded} succeeded, {len(failed)} failed) in {_seconds(scan_seconds)}")
    print(f"  hospitals found      {totals.hospitals} (new {totals.new}, changed {totals.changed}, "
          f"removed {totals.removed}, unchanged {totals.unchanged}; {totals.skipped} records skipped)")
    print(f"  price files listed   {totals.files_listed} (new {totals.files_new}, changed "
          f"{totals.files_changed}, unchanged {totals.files_unchanged}, removed {totals.files_removed})")
    print(f"  hospital partitions  {partitions}")
    for run in failed:
        print(f"  FAILED {run.state} (run {run.run_id}): {run.error}")
    slowest = sorted(runs, key=lambda run: run.seconds, reverse=True)[:3]
    print("  slowest runs         " + ", ".join(f"{run.state} {_seconds(run.seconds)}" for run in slowest))
    print()
    total = time.perf_counter() - began
    print(f"Timings: setup {_seconds(setup_seconds)}, sandbox {_seconds(sandbox_seconds)}, "
          f"scan {_seconds(scan_seconds)} ({scan_seconds / max(len(runs), 1):.2f} s per run), "
          f"total {_seconds(total)}")
    print("Open the Dagster UI on this instance and data with: make dev")
    return 0 if not failed else 1
