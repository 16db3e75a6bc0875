"""Daily cleanup: old runs (never one that holds an asset partition's latest materialization)
and stale temporary files."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

import dagster as dg

FINISHED_OK = [dg.DagsterRunStatus.SUCCESS]
FINISHED_BADLY = [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]

# Materialization lookups go to the event log in batches this size.
_BATCH = 500


@dataclass
class CleanupReport:
    runs_deleted: list[str] = field(default_factory=list)
    runs_kept_for_latest_materialization: int = 0
    temp_files_deleted: int = 0
    temp_bytes_deleted: int = 0


def runs_holding_latest_materializations(
    instance: dg.DagsterInstance, asset_keys: Iterable[dg.AssetKey]
) -> set[str]:
    """Run ids that produced the latest materialization of any asset or asset partition.

    Deleting such a run would delete the event behind the partition's status in the UI.
    """
    holders: set[str] = set()
    for asset_key in asset_keys:
        latest = instance.get_latest_storage_id_by_partition(
            asset_key, dg.DagsterEventType.ASSET_MATERIALIZATION
        )
        storage_ids = sorted(latest.values())
        for start in range(0, len(storage_ids), _BATCH):
            batch = storage_ids[start : start + _BATCH]
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset_key, storage_ids=batch), limit=len(batch)
            ).records
            holders.update(record.run_id for record in records)
        unpartitioned = instance.get_latest_materialization_event(asset_key)
        if unpartitioned is not None and unpartitioned.dagster_event and not unpartitioned.dagster_event.partition:
            holders.add(unpartitioned.run_id)
    return holders


def old_run_ids(instance: dg.DagsterInstance, statuses, older_than: datetime) -> list[str]:
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=statuses, created_before=older_than)
    )
    return [record.dagster_run.run_id for record in records]


def delete_old_runs(
    instance: dg.DagsterInstance,
    asset_keys: Iterable[dg.AssetKey],
    *,
    now: datetime,
    success_days: int,
    failure_days: int,
    report: CleanupReport,
) -> None:
    keep = runs_holding_latest_materializations(instance, asset_keys)
    candidates = old_run_ids(instance, FINISHED_OK, now - timedelta(days=success_days)) + old_run_ids(
        instance, FINISHED_BADLY, now - timedelta(days=failure_days)
    )
    for run_id in candidates:
        if run_id in keep:
            report.runs_kept_for_latest_materialization += 1
            continue
        instance.delete_run(run_id)
        report.runs_deleted.append(run_id)


def prune_temp_files(folder: Path, *, older_than_hours: float, report: CleanupReport) -> None:
    """Remove leftovers of interrupted work; anything younger may belong to a live run."""
    if not folder.exists():
        return
    cutoff = time.time() - older_than_hours * 3600
    for path in sorted(folder.rglob("*"), reverse=True):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                report.temp_bytes_deleted += path.stat().st_size
                path.unlink()
                report.temp_files_deleted += 1
            elif path.is_dir() and path != folder and not any(path.iterdir()):
                path.rmdir()
        except FileNotFoundError:
            continue


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
