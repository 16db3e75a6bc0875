"""hospital_roster materialized as Dagster runs against the sandbox."""

import sqlalchemy as sa

from glimmr_dagster.lib.catalog.schema import hospitals
from glimmr_dagster.lib.pra.records import text


def scan(defs, instance, state, **kwargs):
    return defs.resolve_job_def("pra_scan_job").execute_in_process(
        instance=instance, partition_key=state, raise_on_error=False, **kwargs)


def metadata(result):
    [event] = result.get_asset_materialization_events()
    return {key: value.value for key, value in event.materialization.metadata.items()}


def named_records(sandbox, state):
    return [r for r in sandbox.world.search(state) if text(r.get("name"))]


def test_roster_scan_records_hospitals_and_adds_sorted_partitions(sandbox_env, defs, instance, env_catalog):
    result = scan(defs, instance, "CA")
    assert result.success
    meta = metadata(result)
    expected = named_records(sandbox_env, "CA")
    assert meta["hospitals"] == len(expected) and meta["new"] == len(expected)
    assert (meta["changed"], meta["removed"], meta["unchanged"]) == (0, 0, 0)
    assert {"skipped", "files_new", "files_changed", "files_unchanged"} <= set(meta)
    keys = instance.get_dynamic_partitions("hospitals")
    assert keys == sorted(f"CA-{r['id']}" for r in expected)
    with env_catalog.read() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(hospitals).where(hospitals.c.state == "CA")).scalar()
    assert stored == len(expected)


def test_rescan_sees_changes_published_in_the_index(sandbox_env, defs, instance):
    scan(defs, instance, "TX")
    records = named_records(sandbox_env, "TX")
    fileid = next(f["fileid"] for r in records for f in r.get("files", []))
    sandbox_env.world.publish([fileid])
    [removed] = sandbox_env.world.remove_facilities([records[0]["id"]])
    [added] = sandbox_env.world.add_facilities("TX", 1)
    meta = metadata(scan(defs, instance, "TX"))
    assert meta["new"] == 1 and meta["removed"] == 1
    assert meta["files_changed"] >= 1
    assert f"TX-{added}" in instance.get_dynamic_partitions("hospitals")
    # The removed hospital keeps its partition (its history stays).
    assert f"TX-{removed}" in instance.get_dynamic_partitions("hospitals")


def test_session_failure_fails_the_run_and_keeps_the_previous_roster(sandbox_env, defs, instance, env_catalog):
    assert scan(defs, instance, "FL").success
    sandbox_env.set_fault(empty_session_answers=True)
    result = scan(defs, instance, "FL")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "answered [] for state FL twice" in failure.step_failure_data.error.message
    with env_catalog.read() as conn:
        statuses = conn.execute(sa.select(hospitals.c.status).where(hospitals.c.state == "FL")).scalars().all()
    assert statuses and set(statuses) == {"open"}


def test_test_mode_refuses_states_outside_ca_fl_tx(sandbox_env, defs, instance, monkeypatch):
    monkeypatch.setenv("GLIMMR_TEST_MODE", "1")
    result = scan(defs, instance, "NY")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "test mode is on" in failure.step_failure_data.error.message
    assert scan(defs, instance, "CA").success
