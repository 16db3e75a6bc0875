"""The command-line paths a user takes, as subprocesses on a fresh data directory."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(args, env, timeout=300):
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def fresh_env(tmp_path, sandbox):
    env = os.environ.copy()
    env.update({
        "DAGSTER_HOME": str(tmp_path / "home"),
        "GLIMMR_DATA_DIR": str(tmp_path / "data"),
        "GLIMMR_PRA_API_URL": sandbox.url,
        "GLIMMR_PRA_STORAGE_URL": sandbox.storage_url,
    })
    env.pop("GLIMMR_CATALOG_URL", None)
    env.pop("GLIMMR_TEST_MODE", None)
    (tmp_path / "home").mkdir()
    return env


def test_dagster_cli_materializes_a_state_roster_on_fresh_folders(tmp_path, sandbox):
    env = fresh_env(tmp_path, sandbox)
    result = run([str(BIN / "dagster"), "asset", "materialize", "-m", "glimmr_dagster.definitions",
                  "--select", "hospital_roster", "--partition", "CA"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "data" / "catalog.sqlite").exists()
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        keys = instance.get_dynamic_partitions("hospitals")
        event = instance.get_latest_materialization_event(dg.AssetKey("hospital_roster"))
    assert keys and all(key.startswith("CA-") for key in keys)
    assert event.asset_materialization.metadata["hospitals"].value == len(keys)


def test_glimmr_scan_then_backfill_a_state(tmp_path, sandbox):
    env = fresh_env(tmp_path, sandbox)
    scanned = run([str(BIN / "glimmr"), "scan", "--state", "nv"], env)
    assert scanned.returncode == 0, scanned.stderr[-3000:]
    assert scanned.stdout.startswith("NV: ok hospitals ")

    backfill = run([str(BIN / "glimmr"), "backfill", "--state", "NV", "--force"], env)
    assert backfill.returncode == 0, backfill.stderr[-3000:]
    assert "NV: backfill " in backfill.stdout and "(forced)" in backfill.stdout
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        [record] = instance.get_backfills()
        keys = instance.get_dynamic_partitions("hospitals")
    assert record.tags == {"glimmr/state": "NV", "glimmr/trigger": "cli_backfill", "glimmr/force": "true"}
    target = record.asset_backfill_data.target_subset.get_partitions_subset(dg.AssetKey("hospital_price_files"))
    assert sorted(target.get_partition_keys()) == sorted(keys)

    unknown = run([str(BIN / "glimmr"), "backfill", "--state", "NV", "--assets", "nope"], env)
    assert unknown.returncode == 2 and "unknown hospital assets: nope" in unknown.stderr

    empty = run([str(BIN / "glimmr"), "backfill", "--state", "WY"], env)
    assert empty.returncode == 1 and "scan the state first (glimmr scan --state WY)" in empty.stdout


def test_glimmr_reparse_launches_parse_only_backfills(tmp_path, sandbox):
    env = fresh_env(tmp_path, sandbox)
    assert run([str(BIN / "glimmr"), "scan", "--state", "NY"], env).returncode == 0
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        keys = sorted(instance.get_dynamic_partitions("hospitals"))
    by_state = run([str(BIN / "glimmr"), "reparse", "--state", "NY"], env)
    assert by_state.returncode == 0, by_state.stderr[-3000:]
    one = run([str(BIN / "glimmr"), "reparse", "--hospital", keys[0], "--force"], env)
    assert one.returncode == 0, one.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        backfills = sorted(instance.get_backfills(), key=lambda b: b.backfill_timestamp)
    assert [b.asset_selection for b in backfills] == [[dg.AssetKey("hospital_standard_charges")]] * 2
    assert backfills[0].tags == {"glimmr/state": "NY", "glimmr/trigger": "reparse"}
    assert backfills[1].tags == {"glimmr/trigger": "reparse", "glimmr/reparse": "true"}
    target = backfills[1].asset_backfill_data.target_subset.get_partitions_subset(
        dg.AssetKey("hospital_standard_charges"))
    assert list(target.get_partition_keys()) == [keys[0]]
