"""Run the project's jobs as Dagster runs in this process, recorded in the instance.

The demo and `glimmr scan` use these instead of the daemon: the same jobs, partitions, tags and
run keys the schedules and the change sensor would use, executed one after another.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable

import dagster as dg

from ..defs.automation.sensors import pra_file_change_sensor
from ..defs.tags import STATE_TAG, TRIGGER_TAG

# Events still go to the instance's event log; only the console stays readable.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class RunOutcome:
    partition_key: str
    run_id: str
    success: bool
    seconds: float
    # Materialization metadata by asset name.
    metadata: dict[str, dict[str, object]] = field(default_factory=dict)
    error: str = ""

    def value(self, asset: str, name: str) -> int:
        return int(self.metadata.get(asset, {}).get(name, 0) or 0)


def _materialization_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, object]]:
    return {
        event.materialization.asset_key.to_user_string(): {
            key: value.value for key, value in event.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
    }


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            message = event.step_failure_data.error.message.strip()
            return message.splitlines()[0] if message else "step failed"
    return "run failed"


def execute_partition(
    job: dg.JobDefinition, instance: dg.DagsterInstance, partition_key: str, tags: dict[str, str], quiet: bool
) -> RunOutcome:
    began = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        partition_key=partition_key,
        raise_on_error=False,
        tags=tags,
        run_config=QUIET_CONSOLE if quiet else None,
    )
    return RunOutcome(
        partition_key=partition_key,
        run_id=result.run_id,
        success=result.success,
        seconds=time.perf_counter() - began,
        metadata=_materialization_metadata(result),
        error="" if result.success else _failure_message(result),
    )


def run_state_scans(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    states: Iterable[str],
    *,
    trigger: str = "manual",
    quiet: bool = False,
) -> list[RunOutcome]:
    """Scan each state in its own run; a failing state is reported and the others go on."""
    job = defs.resolve_job_def("pra_scan_job")
    return [
        execute_partition(job, instance, state, {STATE_TAG: state, TRIGGER_TAG: trigger}, quiet)
        for state in states
    ]


def run_changed_hospitals(
    defs: dg.Definitions, instance: dg.DagsterInstance, *, quiet: bool = False
) -> list[RunOutcome]:
    """Evaluate the change sensor and run what it requests, tick after tick, until it asks for
    nothing it has not already run (a failed hospital waits for its backoff, as in production)."""
    job = defs.resolve_job_def("hospital_files_job")
    outcomes: list[RunOutcome] = []
    done: set[str] = set()
    cursor = None
    while True:
        result = pra_file_change_sensor(dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor))
        cursor = result.cursor
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        fresh = [request for request in result.run_requests if request.run_key not in done]
        if not fresh:
            return outcomes
        for request in fresh:
            done.add(request.run_key)
            tags = {**request.tags, "dagster/run_key": request.run_key}
            outcomes.append(execute_partition(job, instance, request.partition_key, tags, quiet))
