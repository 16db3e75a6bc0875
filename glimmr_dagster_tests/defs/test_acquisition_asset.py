"""hospital_price_files against the sandbox: real downloads into real storage."""

import dagster as dg
import pytest
import sqlalchemy as sa

from glimmr_dagster.lib.acquire import content_fingerprint
from glimmr_dagster.lib.catalog.schema import file_acquisitions, file_versions
from glimmr_dagster.lib.pra.client import PraClient
from glimmr_dagster.lib.roster import scan_state
from glimmr_dagster.lib.settings import load_settings
from glimmr_dagster.lib.states import STATE_CODES


@pytest.fixture
def scanned(sandbox_env, env_catalog, instance):
    """Every state of the sandbox scanned into the catalog, partitions registered."""
    keys = []
    with PraClient(load_settings().pra) as client:
        for state in STATE_CODES:
            keys += scan_state(env_catalog, client, state).changes.new
    instance.add_dynamic_partitions("hospitals", keys)
    return sandbox_env


def hospitals_by_files(sandbox):
    """{hospital key: [fileid, ...]} as the sandbox lists them (named facilities only)."""
    listing = {}
    for state in STATE_CODES:
        for record in sandbox.world.search(state):
            if record.get("name"):
                listing[f"{state}-{record['id']}"] = [f["fileid"] for f in record.get("files", [])]
    return listing


def run_hospital(defs, instance, key, **tags):
    return defs.resolve_job_def("hospital_files_job").execute_in_process(
        instance=instance, partition_key=key, raise_on_error=False, tags=tags or None)


def materialization(result, asset="hospital_price_files"):
    [event] = [e for e in result.get_asset_materialization_events()
               if e.materialization.asset_key == dg.AssetKey(asset)]
    return event.materialization


def meta(result, asset="hospital_price_files"):
    return {k: v.value for k, v in materialization(result, asset).metadata.items()}


def check(result, name="all_files_acquired"):
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def current_rows(catalog, key):
    with catalog.read() as conn:
        return conn.execute(sa.select(file_versions).where(
            file_versions.c.hospital_key == key, file_versions.c.is_current == sa.true())).all()


def one_file_hospital(sandbox):
    return next(key for key, files in hospitals_by_files(sandbox).items() if len(files) == 1)


def test_new_files_are_downloaded_and_stored_by_content_hash(scanned, defs, instance, env_catalog, data_env):
    key = one_file_hospital(scanned)
    [fileid] = hospitals_by_files(scanned)[key]
    result = run_hospital(defs, instance, key)
    assert result.success
    m = meta(result)
    assert (m["files_new"], m["files_changed"], m["files_unchanged"], m["files_failed"]) == (1, 0, 0, 0)
    assert m["bytes"] > 0
    [row] = current_rows(env_catalog, key)
    stored = data_env / "raw" / row.sha256[:2] / f"{row.sha256}.{row.kind}"
    assert stored.exists() and stored.stat().st_size == row.size
    assert row.fileid == fileid and row.url.startswith(scanned.url) and row.http_status == 200
    assert check(result).passed
    assert materialization(result).tags["dagster/data_version"] == content_fingerprint([row.sha256])


def test_unchanged_forced_and_republished(scanned, defs, instance, env_catalog):
    key = one_file_hospital(scanned)
    [fileid] = hospitals_by_files(scanned)[key]
    run_hospital(defs, instance, key)
    downloads = scanned.stats.file(fileid)["downloads"]

    again = meta(run_hospital(defs, instance, key))
    assert (again["files_new"], again["files_changed"], again["files_unchanged"]) == (0, 0, 1)
    assert scanned.stats.file(fileid)["downloads"] == downloads  # nothing needed work: no request

    forced = meta(run_hospital(defs, instance, key, **{"glimmr/force": "true"}))
    assert forced["forced"] and forced["files_unchanged"] == 1 and forced["bytes"] > 0
    first_sha = current_rows(env_catalog, key)[0].sha256

    scanned.world.publish([fileid])
    with PraClient(load_settings().pra) as client:
        scan_state(env_catalog, client, key[:2])
    changed = meta(run_hospital(defs, instance, key))
    assert changed["files_changed"] == 1
    [now] = current_rows(env_catalog, key)
    assert now.sha256 != first_sha
    with env_catalog.read() as conn:
        history = conn.execute(sa.select(file_versions.c.sha256).where(file_versions.c.hospital_key == key)).scalars().all()
    assert sorted(history) == sorted([first_sha, now.sha256])  # the old version stays for trends


def test_shared_fileid_is_downloaded_once(scanned, defs, instance, env_catalog):
    owners = {}
    for key, files in hospitals_by_files(scanned).items():
        for fileid in files:
            owners.setdefault(fileid, []).append(key)
    fileid, (first, second, *_) = next((f, keys) for f, keys in owners.items() if len(keys) > 1)
    assert run_hospital(defs, instance, first).success
    result = run_hospital(defs, instance, second)
    assert meta(result)["files_reused"] >= 1
    assert scanned.stats.file(fileid)["downloads"] == 1
    mine = {r.sha256 for r in current_rows(env_catalog, second) if r.fileid == fileid}
    theirs = {r.sha256 for r in current_rows(env_catalog, first) if r.fileid == fileid}
    assert mine == theirs and mine


def test_origin_failure_falls_back_to_the_pra_mirror(scanned, defs, instance, env_catalog):
    key = one_file_hospital(scanned)
    [fileid] = hospitals_by_files(scanned)[key]
    scanned.set_fault(fileid, fail_first=1000, scope="origin")
    result = run_hospital(defs, instance, key)
    assert result.success and meta(result)["files_new"] == 1
    [row] = current_rows(env_catalog, key)
    assert row.source == "mirror" and "/storage/" in row.url


def test_partial_failure_succeeds_but_the_check_names_the_failure(scanned, defs, instance, env_catalog):
    key, files = next((k, f) for k, f in hospitals_by_files(scanned).items() if len(f) >= 2)
    broken = files[0]
    scanned.set_fault(broken, fail_first=1000, fail_status=500)
    result = run_hospital(defs, instance, key)
    assert result.success
    m = meta(result)
    assert m["files_failed"] == 1 and m["files_new"] == len(files) - 1
    evaluation = check(result)
    assert not evaluation.passed and broken in evaluation.description and "500" in evaluation.description
    with env_catalog.read() as conn:
        row = conn.execute(sa.select(file_acquisitions).where(
            file_acquisitions.c.hospital_key == key, file_acquisitions.c.fileid == broken)).one()
    assert row.attempts == 1 and row.next_attempt_at is not None and "500" in row.last_error
    assert row.acquired_signature == ""  # nothing half-done was recorded as acquired


def test_hospital_whose_files_all_fail_fails_the_run_with_the_messages(scanned, defs, instance, env_catalog):
    from glimmr_dagster.lib.catalog.schema import file_records

    key = one_file_hospital(scanned)
    # A listing that points at the cloud metadata service, with no PRA mirror to fall back on.
    with env_catalog.write() as conn:
        conn.execute(file_records.update().where(file_records.c.hospital_key == key).values(
            url="http://169.254.169.254/latest/meta-data/", storage="", project=""))
    result = run_hospital(defs, instance, key)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert f"no price file of {key} could be acquired" in message and "169.254.169.254" in message
    assert current_rows(env_catalog, key) == []
    # A refused URL is no transient failure: the run was not retried.
    assert sum(1 for e in result.all_events if e.event_type_value == "STEP_RESTARTED") == 0


def test_s3_raw_store(scanned, instance, env_catalog, s3_env, monkeypatch):
    from glimmr_dagster.definitions import build_definitions

    monkeypatch.setenv("GLIMMR_RAW_STORE", "s3://glimmr/raw")
    key = one_file_hospital(scanned)
    result = run_hospital(build_definitions(load_settings()), instance, key)
    assert result.success and meta(result)["files_new"] == 1
    [row] = current_rows(env_catalog, key)
    stored = s3_env.head_object(Bucket="glimmr", Key=f"raw/{row.sha256[:2]}/{row.sha256}.{row.kind}")
    assert stored["ContentLength"] == row.size


def test_new_retrieved_with_the_same_bytes_is_a_304_and_stops_the_sensor_asking(scanned, defs, instance, env_catalog):
    from glimmr_dagster.defs.automation.sensors import pra_file_change_sensor
    from glimmr_dagster.lib.catalog.schema import file_records
    from glimmr_dagster.lib.pra.records import FileRecord, parse_retrieved

    key = one_file_hospital(scanned)
    [fileid] = hospitals_by_files(scanned)[key]
    run_hospital(defs, instance, key)
    # PRA fetched the file again (a new `retrieved`) but the hospital did not change it.
    with env_catalog.write() as conn:
        row = conn.execute(sa.select(file_records).where(file_records.c.hospital_key == key)).one()
        retrieved = "2030-01-01T00:00:00Z"
        signature = FileRecord(fileid=fileid, retrieved=retrieved, retrieved_at=parse_retrieved(retrieved),
                               size=row.size, url=row.url).signature()
        conn.execute(file_records.update().where(file_records.c.hospital_key == key).values(
            retrieved=retrieved, retrieved_at=parse_retrieved(retrieved), signature=signature))
    def requested():
        result = pra_file_change_sensor(dg.build_sensor_context(instance=instance, definitions=defs))
        return {request.partition_key for request in result.run_requests}

    assert key in requested()
    result = run_hospital(defs, instance, key)
    m = meta(result)
    assert (m["files_new"], m["files_changed"], m["files_unchanged"], m["bytes"]) == (0, 0, 1, 0)
    assert "304" in scanned.stats.file(fileid)["statuses"]
    [version] = current_rows(env_catalog, key)
    assert version.retrieved == retrieved  # the new `retrieved` was seen
    assert key not in requested()
    charges = meta(result, "hospital_standard_charges")
    assert (charges["files_parsed"], charges["files_reused"]) == (0, 1)  # parsing reused, not redone
