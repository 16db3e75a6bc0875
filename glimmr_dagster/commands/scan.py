"""Run PRA scans as Dagster runs in this process: one run per state, recorded in the instance."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable

import dagster as dg


@dataclass
class StateRun:
    state: str
    run_id: str
    success: bool
    seconds: float
    metadata: dict[str, object] = field(default_factory=dict)
    error: str = ""


def _materialization_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    for event in result.get_asset_materialization_events():
        return {key: value.value for key, value in event.materialization.metadata.items()}
    return {}


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            # A dg.Failure carries its description as the message; show the cause chain's end.
            while error.cause is not None and not error.message.strip():
                error = error.cause
            return error.message.strip().splitlines()[0] if error.message.strip() else error.cls_name or "failed"
    return "run failed"


def run_state_scans(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    states: Iterable[str],
    *,
    trigger: str = "manual",
) -> list[StateRun]:
    """Scan each state in its own run; a failing state is reported and the others go on."""
    job = defs.resolve_job_def("pra_scan_job")
    runs: list[StateRun] = []
    for state in states:
        began = time.perf_counter()
        result = job.execute_in_process(
            instance=instance,
            partition_key=state,
            raise_on_error=False,
            tags={"glimmr/state": state, "glimmr/trigger": trigger},
        )
        runs.append(
            StateRun(
                state=state,
                run_id=result.run_id,
                success=result.success,
                seconds=time.perf_counter() - began,
                metadata=_materialization_metadata(result) if result.success else {},
                error="" if result.success else _failure_message(result),
            )
        )
    return runs
