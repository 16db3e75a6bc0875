"""Jobs the automation launches: one hospital per run, the weekly refresh, the daily cleanup."""

import dagster as dg

from ...lib.settings import load_settings
from ..acquisition.assets import hospital_price_files
from ..acquisition.resources import RawStoreResource
from ..prices.assets import hospital_standard_charges
from ..partitions import hospital_partitions
from ..resources import CatalogResource
from .backfills import launch_state_backfill
from .cleanup import CleanupReport, delete_old_runs, prune_temp_files, utc_now

hospital_files_job = dg.define_asset_job(
    "hospital_files_job",
    selection=[hospital_price_files, hospital_standard_charges],
    partitions_def=hospital_partitions,
    description="Fetch one hospital's changed price files and parse them into the lake.",
    # One hospital per run, in process: a run is cheap and a failure stays that hospital's.
    executor_def=dg.in_process_executor,
)


def _asset_graph():
    """The project's asset graph. Built here rather than taken from the run's repository, which
    an in-process execution (tests, the CLI) does not carry; the code location is the same."""
    from ...definitions import build_definitions

    return build_definitions(load_settings()).resolve_asset_graph()


@dg.op(description="Launch a forced backfill of every open hospital, one backfill per state.")
def launch_full_refresh(context: dg.OpExecutionContext, catalog: CatalogResource) -> dg.Output:
    store = catalog.get_catalog()
    asset_graph = _asset_graph()
    launched = {}
    for state in load_settings().scan_states:
        backfill_id, count = launch_state_backfill(
            context.instance, asset_graph, store, state, force=True, trigger="full_refresh"
        )
        if backfill_id:
            launched[state] = {"backfill_id": backfill_id, "hospitals": count}
    context.log.info(f"launched {len(launched)} state backfills, {sum(v['hospitals'] for v in launched.values())} hospitals")
    return dg.Output(
        len(launched),
        metadata={
            "states": len(launched),
            "hospitals": sum(v["hospitals"] for v in launched.values()),
            "backfills": dg.MetadataValue.json(launched),
        },
    )


@dg.job(description="Re-fetch every hospital's files (forced), spread through the run queue.")
def full_refresh_job():
    launch_full_refresh()


@dg.op(description="Delete old runs (keeping any that hold a latest materialization) and stale temp files.")
def clean_up(context: dg.OpExecutionContext, raw_store: RawStoreResource) -> dg.Output:
    settings = load_settings()
    automation = settings.automation
    report = CleanupReport()
    delete_old_runs(
        context.instance,
        _asset_graph().get_all_asset_keys(),
        now=utc_now(),
        success_days=automation.run_retention_days,
        failure_days=automation.failed_run_retention_days,
        report=report,
    )
    prune_temp_files(settings.tmp_dir, older_than_hours=automation.temp_file_retention_hours, report=report)
    # Interrupted downloads leave staged parts (local files, unfinished S3 multipart uploads).
    staged = raw_store.get_store().remove_stale_staging(automation.temp_file_retention_hours * 3600)
    context.log.info(
        f"deleted {len(report.runs_deleted)} runs (kept {report.runs_kept_for_latest_materialization} that hold "
        f"a latest materialization), {report.temp_files_deleted} temp files"
    )
    return dg.Output(
        len(report.runs_deleted),
        metadata={
            "runs_deleted": len(report.runs_deleted),
            "runs_kept_for_latest_materialization": report.runs_kept_for_latest_materialization,
            "temp_files_deleted": report.temp_files_deleted,
            "temp_bytes_deleted": report.temp_bytes_deleted,
            "staged_downloads_deleted": staged,
        },
    )


@dg.job(description="Daily housekeeping of the instance and the data directory.")
def cleanup_job():
    clean_up()
