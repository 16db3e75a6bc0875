import os
import time

import dagster as dg

from glimmr_dagster.defs.automation.cleanup import CleanupReport, delete_old_runs, prune_temp_files, utc_now

partitions = dg.StaticPartitionsDefinition(["a", "b"])


@dg.asset(partitions_def=partitions)
def sample():
    return dg.MaterializeResult()


@dg.asset
def unpartitioned():
    return dg.MaterializeResult()


@dg.asset
def broken():
    raise RuntimeError("always fails")


def test_cleanup_deletes_old_runs_but_never_a_latest_materialization(instance):
    older = dg.materialize([sample], instance=instance, partition_key="a").run_id
    latest_a = dg.materialize([sample], instance=instance, partition_key="a").run_id
    latest_b = dg.materialize([sample], instance=instance, partition_key="b").run_id
    flat_old = dg.materialize([unpartitioned], instance=instance).run_id
    flat_latest = dg.materialize([unpartitioned], instance=instance).run_id
    failed = dg.materialize([broken], instance=instance, raise_on_error=False).run_id
    keys = [dg.AssetKey("sample"), dg.AssetKey("unpartitioned"), dg.AssetKey("broken")]

    # Successes older than "now + 1 day" are all old; failures are kept for 30 days.
    report = CleanupReport()
    delete_old_runs(instance, keys, now=utc_now(), success_days=-1, failure_days=30, report=report)
    assert sorted(report.runs_deleted) == sorted([older, flat_old])
    assert report.runs_kept_for_latest_materialization == 3
    remaining = {record.dagster_run.run_id for record in instance.get_run_records()}
    assert remaining == {latest_a, latest_b, flat_latest, failed}
    # Partition status survives: both partitions still show as materialized.
    assert instance.get_latest_materialization_event(dg.AssetKey("sample")) is not None
    assert set(instance.get_materialized_partitions(dg.AssetKey("sample"))) == {"a", "b"}

    # Failures go once their own, longer retention has passed.
    report = CleanupReport()
    delete_old_runs(instance, keys, now=utc_now(), success_days=-1, failure_days=-1, report=report)
    assert report.runs_deleted == [failed]


def test_temp_files_older_than_the_retention_are_pruned(tmp_path):
    stale = tmp_path / "tmp" / "download-1" / "part"
    fresh = tmp_path / "tmp" / "download-2" / "part"
    for path in (stale, fresh):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x" * 100)
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    report = CleanupReport()
    prune_temp_files(tmp_path / "tmp", older_than_hours=24, report=report)
    assert not stale.exists() and not stale.parent.exists()
    assert fresh.exists()
    assert (report.temp_files_deleted, report.temp_bytes_deleted) == (1, 100)


def test_cleanup_job_runs_against_the_instance_and_data_directory(defs, instance, data_env):
    stale = data_env / "raw" / ".staging" / "tmp" / "part-old"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"partial download")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    result = defs.resolve_job_def("cleanup_job").execute_in_process(instance=instance)
    assert result.success
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output.event_specific_data.metadata
    assert metadata["staged_downloads_deleted"].value == 1 and not stale.exists()
