import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from glimmr_dagster.definitions import build_definitions
from glimmr_dagster.lib.settings import load_settings
from glimmr_dagster.lib.states import STATE_CODES

REPO = Path(__file__).resolve().parents[2]


def test_definitions_load_with_the_names_others_rely_on(data_env):
    defs = build_definitions(load_settings())
    roster = defs.resolve_assets_def("hospital_roster")
    assert roster.partitions_def.get_partition_keys() == list(STATE_CODES)
    job = defs.resolve_job_def("pra_scan_job")
    assert job.partitions_def == roster.partitions_def
    assert set(defs.resolve_all_job_defs()) >= {job}


def test_hospital_partitions_are_dynamic_and_named_hospitals():
    from glimmr_dagster.defs.partitions import hospital_partitions

    assert isinstance(hospital_partitions, dg.DynamicPartitionsDefinition)
    assert hospital_partitions.name == "hospitals"


def test_dagster_cli_validates_the_workspace(data_env):
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "glimmr_dagster" in result.stdout + result.stderr
