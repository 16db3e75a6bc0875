"""The change sensor: request a run for each hospital whose price files changed in the index."""

import dagster as dg

from ...lib.catalog import Catalog
from ...lib.settings import load_settings
from ...lib.worklist import HospitalWork, hospitals_needing_work
from ..partitions import HOSPITAL_PARTITIONS_NAME, hospital_partitions
from ..resources import catalog_from_context
from ..tags import ATTEMPT_TAG, STATE_TAG, TRIGGER_TAG
from .jobs import hospital_files_job


def _due_work(catalog: Catalog, cursor: str, cap: int) -> list[HospitalWork]:
    """Continue after the cursor; wrap to the start when the end comes before the cap."""
    work = hospitals_needing_work(catalog, after=cursor, limit=cap)
    if len(work) < cap and cursor:
        seen = {item.hospital_key for item in work}
        wrapped = hospitals_needing_work(catalog, after="", limit=cap - len(work))
        work += [item for item in wrapped if item.hospital_key not in seen]
    return work


@dg.sensor(
    job=hospital_files_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Reads the catalog (never the network) and requests one run per hospital whose listed files "
        "are new or changed (retrieved, size or url), or whose failed attempt is due again."
    ),
)
def pra_file_change_sensor(context: dg.SensorEvaluationContext):
    cap = load_settings().automation.sensor_max_requests
    work = _due_work(catalog_from_context(context), context.cursor or "", cap)
    if not work:
        return dg.SensorResult(skip_reason=dg.SkipReason("no hospital has files that need work"), cursor="")

    known = set(context.instance.get_dynamic_partitions(HOSPITAL_PARTITIONS_NAME))
    missing = sorted(item.hospital_key for item in work if item.hospital_key not in known)
    requests = [
        dg.RunRequest(
            run_key=item.run_key,
            partition_key=item.hospital_key,
            tags={
                STATE_TAG: item.state,
                TRIGGER_TAG: item.reason,
                ATTEMPT_TAG: str(item.attempt),
            },
        )
        for item in work
    ]
    context.log.info(
        f"{len(requests)} hospitals need work"
        + (f" ({len(missing)} partitions added first)" if missing else "")
    )
    return dg.SensorResult(
        run_requests=requests,
        # Partitions are added before the runs that target them are created.
        dynamic_partitions_requests=[hospital_partitions.build_add_request(missing)] if missing else [],
        cursor=work[-1].hospital_key,
    )
