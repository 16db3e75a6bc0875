"""Backfills of hospital partitions: a state's explicit key list, tagged, for the daemon to run.

This is what the UI's "launch backfill" (GraphQL `launchPartitionBackfill`) records: an asset
backfill in the instance. The daemon turns it into one run per hospital through the run queue,
so a state of several hundred hospitals spreads out under the instance's concurrency limits.
"""

from __future__ import annotations

from typing import Sequence

import dagster as dg
import sqlalchemy as sa
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id
from dagster._time import get_current_timestamp

from ...lib.catalog import Catalog
from ...lib.catalog.schema import hospitals
from ..partitions import HOSPITAL_PARTITIONS_NAME
from ..tags import FORCE_TAG, STATE_TAG, TRIGGER_TAG

# The hospital assets a backfill materializes unless told otherwise.
DEFAULT_HOSPITAL_ASSETS: tuple[str, ...] = ("hospital_price_files", "hospital_standard_charges")


def open_hospital_keys(catalog: Catalog, state: str) -> list[str]:
    with catalog.read() as conn:
        return list(
            conn.execute(
                sa.select(hospitals.c.hospital_key)
                .where(hospitals.c.state == state, hospitals.c.status == "open")
                .order_by(hospitals.c.hospital_key)
            ).scalars()
        )


def launch_state_backfill(
    instance: dg.DagsterInstance,
    asset_graph: BaseAssetGraph,
    catalog: Catalog,
    state: str,
    *,
    asset_names: Sequence[str] = DEFAULT_HOSPITAL_ASSETS,
    force: bool = False,
    trigger: str = "backfill",
) -> tuple[str | None, int]:
    """Launch a backfill of a state's open hospitals; returns (backfill id, hospitals) or (None, 0)."""
    tags = {FORCE_TAG: "true"} if force else {}
    return launch_hospital_backfill(
        instance, asset_graph, open_hospital_keys(catalog, state), asset_names=asset_names,
        tags={STATE_TAG: state, TRIGGER_TAG: trigger, **tags},
        title=f"{state}: {{count}} hospitals" + (" (forced)" if force else ""),
    )


def launch_hospital_backfill(
    instance: dg.DagsterInstance,
    asset_graph: BaseAssetGraph,
    keys: Sequence[str],
    *,
    asset_names: Sequence[str],
    tags: dict[str, str],
    title: str,
) -> tuple[str | None, int]:
    """Launch a backfill of explicit hospital keys; `{count}` in the title becomes their number."""
    keys = sorted(keys)
    known = set(instance.get_dynamic_partitions(HOSPITAL_PARTITIONS_NAME))
    missing = [key for key in keys if key not in known]
    if missing:
        # The catalog is the source of truth; a partition lost from the instance comes back.
        instance.add_dynamic_partitions(HOSPITAL_PARTITIONS_NAME, missing)
    if not keys:
        return None, 0
    asset_keys = [dg.AssetKey(name) for name in asset_names]
    unknown = [key.to_user_string() for key in asset_keys if not asset_graph.has(key)]
    if unknown:
        raise ValueError(f"unknown hospital assets: {', '.join(unknown)}")
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=asset_graph,
        partition_names=keys,
        asset_selection=asset_keys,
        backfill_timestamp=get_current_timestamp(),
        tags=tags,
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=title.format(count=len(keys)),
        description=f"{tags.get(TRIGGER_TAG, 'backfill')} of {', '.join(asset_names)}",
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id, len(keys)
