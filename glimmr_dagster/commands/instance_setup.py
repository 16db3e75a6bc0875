"""Prepare one data directory and one Dagster instance that every entry point shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from ..lib.catalog import Catalog
from ..lib.settings import Settings

# Limits of the project's concurrency pools. They live in the instance, not in code, so the
# project's own setup writes them (`glimmr init`, `make demo`, `make dev`, test fixtures).
POOL_LIMITS: dict[str, int] = {
    # Scans of the PRA index: one at a time keeps the shared rate limit a formality.
    "pra_index": 1,
    # Hospital downloads in progress across all runs (hosts are capped again in each run).
    "downloads": 8,
    # The warehouse has one writer at a time (DuckDB allows one read-write process per file).
    "duckdb_writer": 1,
}

MANAGED_MARKER = "# Written by `glimmr init` from the project's dagster.yaml; edits are replaced.\n"
_PROJECT_INSTANCE_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


@dataclass
class InstanceSetup:
    data_dir: Path
    dagster_home: Path
    catalog_url: str
    instance_yaml_written: bool


def write_instance_yaml(dagster_home: Path, source: Path = _PROJECT_INSTANCE_YAML) -> bool:
    """Copy the project's dagster.yaml into DAGSTER_HOME unless someone replaced ours there."""
    target = dagster_home / "dagster.yaml"
    if not source.exists():
        return False
    if target.exists() and not target.read_text().startswith(MANAGED_MARKER):
        return False
    content = MANAGED_MARKER + source.read_text()
    if target.exists() and target.read_text() == content:
        return False
    tmp = target.with_suffix(".yaml.tmp")
    tmp.write_text(content)
    tmp.replace(target)
    return True


def apply_pool_limits(instance: dg.DagsterInstance, limits: dict[str, int] = POOL_LIMITS) -> None:
    for pool, limit in limits.items():
        instance.event_log_storage.set_concurrency_slots(pool, limit)


def prepare(settings: Settings) -> InstanceSetup:
    """Create the data directory and DAGSTER_HOME, write the instance config, migrate the catalog."""
    for folder in (settings.data_dir, settings.dagster_home, settings.tmp_dir):
        folder.mkdir(parents=True, exist_ok=True)
    written = write_instance_yaml(settings.dagster_home)
    Catalog(settings.catalog_url).dispose()
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        apply_pool_limits(instance)
    return InstanceSetup(
        data_dir=settings.data_dir,
        dagster_home=settings.dagster_home,
        catalog_url=settings.catalog_url,
        instance_yaml_written=written,
    )
