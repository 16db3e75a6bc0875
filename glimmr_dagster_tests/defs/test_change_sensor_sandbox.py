"""The change sensor after real scans of the sandbox: republished files, new hospitals."""

import dagster as dg

from glimmr_dagster.defs.automation.sensors import pra_file_change_sensor
from glimmr_dagster.lib.pra.client import PraClient
from glimmr_dagster.lib.roster import scan_state
from glimmr_dagster.lib.settings import load_settings
from glimmr_dagster.lib.states import STATE_CODES
from glimmr_dagster.lib.worklist import hospitals_needing_work, record_acquired


def scan_everything(catalog, states=STATE_CODES):
    with PraClient(load_settings().pra) as client:
        for state in states:
            scan_state(catalog, client, state)


def acquire_all(catalog):
    for work in hospitals_needing_work(catalog, limit=10_000):
        for f in work.files:
            record_acquired(catalog, work.hospital_key, f.fileid, f.signature)


def requested(defs, instance):
    result = pra_file_change_sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    return result, sorted(r.partition_key for r in result.run_requests)


def test_republished_files_request_exactly_their_hospitals(sandbox_env, defs, instance, env_catalog):
    scan_everything(env_catalog)
    acquire_all(env_catalog)
    assert requested(defs, instance)[1] == []

    published = sandbox_env.world.publish(fraction=0.10)
    scan_everything(env_catalog)
    expected = sorted({
        f"{state}-{facility_id}"
        for item in published
        for facility_id in sandbox_env.world.facilities_listing(item["fileid"])
        for state in STATE_CODES
        if any(r["id"] == facility_id and r.get("name") for r in sandbox_env.world.search(state))
    })
    result, keys = requested(defs, instance)
    assert len(published) >= 1 and keys == expected
    assert {r.tags["glimmr/trigger"] for r in result.run_requests} == {"changed"}


def test_new_hospital_gets_its_partition_then_its_run(sandbox_env, defs, instance, env_catalog):
    scan_everything(env_catalog, ["NV"])
    acquire_all(env_catalog)
    [new_id] = sandbox_env.world.add_facilities("NV", 1)
    scan_everything(env_catalog, ["NV"])
    result, keys = requested(defs, instance)
    record = next(r for r in sandbox_env.world.search("NV") if r["id"] == new_id)
    assert record["files"]  # seed 11's first added NV facility lists a price file
    assert keys == [f"NV-{new_id}"]
    [add] = result.dynamic_partitions_requests
    assert list(add.partition_keys) == [f"NV-{new_id}"]
