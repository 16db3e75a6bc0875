"""The production shape on one machine: a PostgreSQL Dagster instance (deploy/dagster.yaml) and
a PostgreSQL catalog, scanning the sandbox and answering the change sensor."""

import shutil
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from glimmr_dagster.definitions import build_definitions
from glimmr_dagster.defs.automation.sensors import pra_file_change_sensor
from glimmr_dagster.lib.catalog import Catalog
from glimmr_dagster.lib.catalog.schema import hospitals
from glimmr_dagster.lib.settings import load_settings

DEPLOY_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml"


def test_postgres_instance_and_catalog_run_a_scan(sandbox_env, postgres_server, tmp_path, monkeypatch):
    catalog_url = postgres_server.create_database("deploy_catalog")
    instance_url = postgres_server.create_database("deploy_instance")
    instance_db = sa.engine.make_url(instance_url)
    home = tmp_path / "pg_home"
    home.mkdir()
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    for name, value in {
        "GLIMMR_DAGSTER_PG_HOST": instance_db.host, "GLIMMR_DAGSTER_PG_PORT": str(instance_db.port),
        "GLIMMR_DAGSTER_PG_USER": instance_db.username, "GLIMMR_DAGSTER_PG_PASSWORD": "",
        "GLIMMR_DAGSTER_PG_DB": instance_db.database, "GLIMMR_CATALOG_URL": catalog_url,
    }.items():
        monkeypatch.setenv(name, value)

    defs = build_definitions(load_settings())
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = defs.resolve_job_def("pra_scan_job").execute_in_process(instance=instance, partition_key="CA")
        assert result.success
        keys = instance.get_dynamic_partitions("hospitals")
        sensor = pra_file_change_sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert keys and sorted(r.partition_key for r in sensor.run_requests) == sorted(
        k for k in keys)  # every new hospital of the sandbox's CA lists a file
    catalog = Catalog(catalog_url)
    with catalog.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(hospitals)).scalar() == len(keys)
    catalog.dispose()
