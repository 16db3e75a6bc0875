from datetime import datetime, timedelta, timezone

import dagster as dg

from glimmr_dagster.defs.automation.backfills import launch_state_backfill
from glimmr_dagster.defs.automation.sensors import pra_file_change_sensor
from glimmr_dagster.lib.catalog.schema import file_acquisitions
from glimmr_dagster.lib.pra.records import parse_state_listing
from glimmr_dagster.lib.roster import apply_state_listing
from glimmr_dagster.lib.worklist import listed_files, record_acquired, record_attempt_started, record_failed


def add_hospitals(catalog, state, count, *, retrieved="2026-01-01T00:00:00Z", start=0):
    records = [
        {"id": f"h{i:04d}", "name": f"Hospital {i}", "files": [
            {"fileid": f"{state}-f{i}", "retrieved": retrieved, "size": "100", "url": f"https://h.example/{i}.csv"}]}
        for i in range(start, start + count)
    ]
    return apply_state_listing(catalog, parse_state_listing(state, records))


def acquire_everything(catalog, keys):
    for key in keys:
        for listed in listed_files(catalog, key):
            record_acquired(catalog, key, listed.fileid, listed.signature)


def evaluate(defs, instance, cursor=None):
    return pra_file_change_sensor(dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor))


def test_nothing_to_do_means_no_runs(defs, instance, env_catalog):
    result = evaluate(defs, instance)
    assert result.run_requests == [] and result.skip_reason is not None


def test_new_hospitals_get_partitions_and_runs(defs, instance, env_catalog):
    changes = add_hospitals(env_catalog, "NV", 5)
    result = evaluate(defs, instance)
    assert sorted(r.partition_key for r in result.run_requests) == changes.new
    [add] = result.dynamic_partitions_requests
    assert add.partitions_def_name == "hospitals" and sorted(add.partition_keys) == changes.new
    request = result.run_requests[0]
    assert request.tags["glimmr/state"] == "NV" and request.tags["glimmr/trigger"] == "new"
    assert request.run_key.startswith(request.partition_key + ":")


def test_partitions_already_known_are_not_added_again(defs, instance, env_catalog):
    changes = add_hospitals(env_catalog, "NV", 3)
    instance.add_dynamic_partitions("hospitals", changes.new)
    result = evaluate(defs, instance)
    assert len(result.run_requests) == 3 and result.dynamic_partitions_requests == []


def test_only_changed_hospitals_are_requested(defs, instance, env_catalog):
    changes = add_hospitals(env_catalog, "NV", 20)
    acquire_everything(env_catalog, changes.new)
    assert evaluate(defs, instance).run_requests == []
    # Two hospitals republish (new retrieved); the rest stay as they were.
    records = [
        {"id": f"h{i:04d}", "name": f"Hospital {i}", "files": [
            {"fileid": f"NV-f{i}", "retrieved": "2026-02-01T00:00:00Z" if i in (4, 11) else "2026-01-01T00:00:00Z",
             "size": "100", "url": f"https://h.example/{i}.csv"}]}
        for i in range(20)
    ]
    apply_state_listing(env_catalog, parse_state_listing("NV", records))
    result = evaluate(defs, instance)
    assert sorted(r.partition_key for r in result.run_requests) == ["NV-h0004", "NV-h0011"]
    assert {r.tags["glimmr/trigger"] for r in result.run_requests} == {"changed"}


def test_cap_and_cursor_continue_where_the_last_tick_stopped(defs, instance, env_catalog, monkeypatch):
    monkeypatch.setenv("GLIMMR_SENSOR_MAX_REQUESTS", "4")
    add_hospitals(env_catalog, "NV", 10)
    seen = []
    cursor = None
    for _ in range(3):
        result = evaluate(defs, instance, cursor)
        assert len(result.run_requests) == 4
        seen.append([r.partition_key for r in result.run_requests])
        cursor = result.cursor
    assert seen[0] == [f"NV-h{i:04d}" for i in range(4)]
    assert seen[1] == [f"NV-h{i:04d}" for i in range(4, 8)]
    # The end comes before the cap: the tick wraps to the start (still-pending work re-asked,
    # which the daemon deduplicates by run key).
    assert seen[2] == ["NV-h0008", "NV-h0009", "NV-h0000", "NV-h0001"]


def test_failing_hospital_is_retried_only_after_its_backoff(defs, instance, env_catalog):
    changes = add_hospitals(env_catalog, "NV", 2)
    acquire_everything(env_catalog, ["NV-h0000"])
    [first] = evaluate(defs, instance).run_requests
    assert first.partition_key == "NV-h0001"
    record_attempt_started(env_catalog, "NV-h0001", ["NV-f1"], run_id="run-1")
    record_failed(env_catalog, "NV-h0001", "NV-f1", "HTTP 503")
    assert evaluate(defs, instance).run_requests == []
    # An hour and a minute later (moved the clock back on the stored attempt instead):
    with env_catalog.write() as conn:
        conn.execute(file_acquisitions.update().values(
            next_attempt_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
    [retry] = evaluate(defs, instance).run_requests
    assert retry.partition_key == "NV-h0001"
    assert retry.tags["glimmr/trigger"] == "retry" and retry.tags["glimmr/attempt"] == "1"
    assert retry.run_key != first.run_key
    assert changes.new == ["NV-h0000", "NV-h0001"]


def test_schedules_cron_timezone_and_requests(defs, monkeypatch):
    schedules = {s.name: s for s in defs.schedules}
    assert schedules["pra_scan_schedule"].cron_schedule == "0 6,18 * * *"
    assert schedules["full_refresh_schedule"].cron_schedule == "0 1 * * 0"
    assert schedules["cleanup_schedule"].cron_schedule == "0 3 * * *"
    assert {s.execution_timezone for s in schedules.values()} == {"America/New_York"}
    assert {s.default_status for s in schedules.values()} == {dg.DefaultScheduleStatus.RUNNING}
    when = datetime(2026, 6, 1, 6, 0, tzinfo=timezone(timedelta(hours=-4)))
    requests = schedules["pra_scan_schedule"](dg.build_schedule_context(scheduled_execution_time=when))
    assert len(requests) == 51 and len({r.run_key for r in requests}) == 51
    assert requests[0].partition_key == "AK" and requests[0].tags["glimmr/trigger"] == "schedule"


def test_schedule_times_are_configurable_and_test_mode_scans_three_states(data_env, monkeypatch):
    from glimmr_dagster.definitions import build_definitions
    from glimmr_dagster.lib.settings import load_settings

    monkeypatch.setenv("GLIMMR_SCAN_CRON", "30 5 * * *")
    monkeypatch.setenv("GLIMMR_SCHEDULE_TIMEZONE", "America/Chicago")
    monkeypatch.setenv("GLIMMR_TEST_MODE", "1")
    defs = build_definitions(load_settings())
    scan = {s.name: s for s in defs.schedules}["pra_scan_schedule"]
    assert (scan.cron_schedule, scan.execution_timezone) == ("30 5 * * *", "America/Chicago")
    requests = scan(dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 6, 1, 5, 30, tzinfo=timezone.utc)))
    assert [r.partition_key for r in requests] == ["CA", "FL", "TX"]


def test_state_backfill_targets_the_states_open_hospitals_with_tags(defs, instance, env_catalog):
    add_hospitals(env_catalog, "NV", 4)
    add_hospitals(env_catalog, "UT", 2)
    # A hospital that closed is not backfilled.
    apply_state_listing(env_catalog, parse_state_listing("NV", [
        {"id": f"h{i:04d}", "name": f"Hospital {i}", "files": []} for i in range(3)]))
    backfill_id, count = launch_state_backfill(
        instance, defs.resolve_asset_graph(), env_catalog, "NV", force=True)
    assert count == 3
    backfill = instance.get_backfill(backfill_id)
    assert backfill.tags["glimmr/force"] == "true" and backfill.tags["glimmr/state"] == "NV"
    assert backfill.asset_selection == [dg.AssetKey("hospital_price_files"), dg.AssetKey("hospital_standard_charges")]
    target = backfill.asset_backfill_data.target_subset
    assert sorted(target.get_partitions_subset(dg.AssetKey("hospital_price_files")).get_partition_keys()) == [
        "NV-h0000", "NV-h0001", "NV-h0002"]
    assert set(instance.get_dynamic_partitions("hospitals")) >= {"NV-h0000", "NV-h0001", "NV-h0002"}


def test_full_refresh_job_launches_one_forced_backfill_per_state(defs, instance, env_catalog):
    add_hospitals(env_catalog, "NV", 3)
    add_hospitals(env_catalog, "UT", 2)
    result = defs.resolve_job_def("full_refresh_job").execute_in_process(instance=instance)
    assert result.success
    backfills = {b.tags["glimmr/state"]: b for b in instance.get_backfills()}
    assert set(backfills) == {"NV", "UT"}
    assert all(b.tags["glimmr/force"] == "true" and b.tags["glimmr/trigger"] == "full_refresh"
               for b in backfills.values())
    nv = backfills["NV"].asset_backfill_data.target_subset.get_partitions_subset(dg.AssetKey("hospital_price_files"))
    assert sorted(nv.get_partition_keys()) == ["NV-h0000", "NV-h0001", "NV-h0002"]
