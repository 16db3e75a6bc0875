import dagster as dg

from ..partitions import state_partitions
from .assets import hospital_roster

pra_scan_job = dg.define_asset_job(
    "pra_scan_job",
    selection=[hospital_roster],
    partitions_def=state_partitions,
    description="Scan the PRA index for one state and record its roster in the catalog.",
    # One state per run, in process: a scan is a few HTTP calls and one transaction.
    executor_def=dg.in_process_executor,
)
