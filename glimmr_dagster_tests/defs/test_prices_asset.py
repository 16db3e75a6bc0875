"""hospital_standard_charges: the hospital's current files parsed into the Parquet lake."""

import duckdb
import dagster as dg
import pytest
import sqlalchemy as sa

from glimmr_dagster.lib import standard_charges
from glimmr_dagster.lib.acquire import Kind, LocalRawStore
from glimmr_dagster.lib.catalog.schema import file_records, file_versions, parsed_files
from glimmr_dagster.lib.pra.client import PraClient
from glimmr_dagster.lib.roster import scan_state
from glimmr_dagster.lib.settings import load_settings
from glimmr_dagster.lib.standard_charges import current_price_files

from .test_acquisition_asset import materialization, meta, one_file_hospital, run_hospital


@pytest.fixture
def hospital(sandbox_env, env_catalog, instance):
    """One single-file hospital of the sandbox, scanned and with its partition registered."""
    key = one_file_hospital(sandbox_env)
    with PraClient(load_settings().pra) as client:
        scan_state(env_catalog, client, key[:2])
    instance.add_dynamic_partitions("hospitals", [key])
    return key


def parquet_rows(path):
    return duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]


def test_files_are_parsed_into_the_hive_partitioned_lake(hospital, defs, instance, env_catalog, data_env):
    result = run_hospital(defs, instance, hospital)
    assert result.success
    m = meta(result, "hospital_standard_charges")
    assert m["files_parsed"] == 1 and m["files_failed"] == 0
    assert m["rows_read"] > 0 and m["rows_written"] > 0 and "rows_rejected" in m
    [path] = m["lake_paths"]
    [version_sha] = [r.sha256 for r in current_rows_of(env_catalog, hospital)]
    assert path == str(data_env / "lake" / "prices" / f"state={hospital[:2]}" / f"hospital={hospital}" /
                       f"{version_sha}.parquet")
    assert parquet_rows(path) == m["rows_written"]
    # Hive keys are in the path, not repeated inside the file.
    columns = [c[0] for c in duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{path}', hive_partitioning=false)").fetchall()]
    assert "state" not in columns and "hospital" not in columns
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "all_files_parsed"]
    assert evaluation.passed
    assert [f["lake_path"] for f in current_price_files(env_catalog)] == [path]


def current_rows_of(catalog, key):
    with catalog.read() as conn:
        return conn.execute(sa.select(file_versions).where(
            file_versions.c.hospital_key == key, file_versions.c.is_current == sa.true())).all()


def test_a_parsed_version_is_reused_and_a_new_parser_parses_again(hospital, defs, instance, env_catalog, monkeypatch):
    run_hospital(defs, instance, hospital)
    with env_catalog.read() as conn:
        first = conn.execute(sa.select(parsed_files.c.parsed_at)).scalar_one()
    again = meta(run_hospital(defs, instance, hospital, **{"glimmr/force": "true"}), "hospital_standard_charges")
    assert (again["files_parsed"], again["files_reused"]) == (0, 1)
    with env_catalog.read() as conn:
        assert conn.execute(sa.select(parsed_files.c.parsed_at)).scalar_one() == first

    original = standard_charges.PARSER_VERSION
    monkeypatch.setattr(standard_charges, "PARSER_VERSION", "999.0.0")
    upgraded = meta(run_hospital(defs, instance, hospital), "hospital_standard_charges")
    # The acquisition had nothing to do, yet parsing ran again under the new parser version.
    assert (upgraded["files_parsed"], upgraded["files_reused"]) == (1, 0)
    with env_catalog.read() as conn:
        versions = conn.execute(sa.select(parsed_files.c.parser_version)).scalars().all()
    assert sorted(versions) == sorted([original, "999.0.0"])  # the earlier parse is kept


def test_reparse_tag_parses_again_with_the_same_parser(hospital, defs, instance):
    run_hospital(defs, instance, hospital)
    forced = meta(run_hospital(defs, instance, hospital, **{"glimmr/reparse": "true"}), "hospital_standard_charges")
    assert (forced["files_parsed"], forced["files_reused"]) == (1, 0)


def test_a_broken_file_fails_with_its_location_while_the_others_land(hospital, defs, instance, env_catalog, data_env):
    run_hospital(defs, instance, hospital)
    [good] = current_rows_of(env_catalog, hospital)
    # A second price file of the hospital whose header row is not a CMS header.
    store = LocalRawStore(data_env / "raw")
    with store.open_writer() as writer:
        writer.write(b"hospital_name,last_updated_on,version\nX,2026-01-01,3.0.0\nfoo,bar\n1,2\n")
        stored = writer.commit(Kind.CSV)
    with env_catalog.write() as conn:
        row = {c: getattr(good, c) for c in good._fields if c != "id"}
        conn.execute(file_versions.insert().values(**{**row, "fileid": "extra-file", "sha256": stored.sha256,
                                                      "raw_sha256": stored.sha256, "size": stored.size,
                                                      "raw_size": stored.size, "member_name": ""}))
        conn.execute(file_records.insert().values(**{
            **{c: v for c, v in conn.execute(sa.select(file_records).where(
                file_records.c.hospital_key == hospital)).one()._mapping.items()},
            "fileid": "extra-file"}))
    result = defs.resolve_job_def("hospital_files_job").execute_in_process(
        instance=instance, partition_key=hospital, raise_on_error=False,
        asset_selection=[dg.AssetKey("hospital_standard_charges")])
    assert result.success
    m = meta(result, "hospital_standard_charges")
    assert (m["files_reused"], m["files_failed"]) == (1, 1)
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "all_files_parsed"]
    assert not evaluation.passed
    assert "extra-file" in evaluation.description and stored.sha256 in evaluation.description
    with env_catalog.read() as conn:
        failed = conn.execute(sa.select(parsed_files).where(parsed_files.c.status == "failed")).one()
    assert failed.error and failed.sha256 == stored.sha256


def test_s3_lake(hospital, instance, env_catalog, s3_env, monkeypatch):
    from glimmr_dagster.definitions import build_definitions

    monkeypatch.setenv("GLIMMR_RAW_STORE", "s3://glimmr/raw")
    monkeypatch.setenv("GLIMMR_LAKE", "s3://glimmr/lake")
    result = run_hospital(build_definitions(load_settings()), instance, hospital)
    assert result.success
    m = meta(result, "hospital_standard_charges")
    [uri] = m["lake_paths"]
    [sha] = [r.sha256 for r in current_rows_of(env_catalog, hospital)]
    key = f"lake/prices/state={hospital[:2]}/hospital={hospital}/{sha}.parquet"
    assert uri == f"s3://glimmr/{key}"
    assert s3_env.head_object(Bucket="glimmr", Key=key)["ContentLength"] > 0
    assert materialization(result, "hospital_standard_charges").metadata["rows_written"].value > 0
