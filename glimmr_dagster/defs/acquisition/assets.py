"""A hospital's price files: acquired when the index says they changed (or when forced)."""

import dagster as dg

from ...lib.worklist import listed_files, record_acquired, record_attempt_started
from ..partitions import hospital_partitions
from ..resources import CatalogResource
from ..roster.assets import hospital_roster
from ..tags import is_forced


@dg.asset(
    partitions_def=hospital_partitions,
    group_name="hospital_files",
    kinds={"python"},
    # Every hospital depends on the whole roster; nothing automates on this edge (the change
    # sensor decides which hospitals run), so one state's scan never re-requests every hospital.
    deps=[dg.AssetDep(hospital_roster, partition_mapping=dg.AllPartitionMapping())],
)
def hospital_price_files(context: dg.AssetExecutionContext, catalog: CatalogResource) -> dg.MaterializeResult:
    """The hospital's price files, current as of the index's latest listing."""
    store = catalog.get_catalog()
    key = context.partition_key
    force = is_forced(context.run.tags)
    files = listed_files(store, key)
    todo = [f for f in files if force or f.needs_work]
    record_attempt_started(store, key, [f.fileid for f in todo], run_id=context.run_id)
    new = sum(1 for f in todo if not f.acquired_signature)
    for listed in todo:
        record_acquired(store, key, listed.fileid, listed.signature)
    return dg.MaterializeResult(
        metadata={
            "files_new": new,
            "files_changed": len(todo) - new,
            "files_unchanged": len(files) - len(todo),
            "files_failed": 0,
            "bytes": 0,
            "forced": force,
        }
    )
