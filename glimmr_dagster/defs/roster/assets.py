"""The state rosters: which hospitals the PRA index lists, and their price files."""

import dagster as dg

from ...lib.pra.client import PraError
from ...lib.roster import scan_state
from ...lib.settings import load_settings
from ...lib.states import TEST_MODE_STATES
from ..partitions import HOSPITAL_PARTITIONS_NAME, state_partitions
from ..resources import CatalogResource, PraIndexResource

# Enough new keys to recognise a scan in the UI without flooding the metadata panel.
_SAMPLE_KEYS = 20


@dg.asset(
    partitions_def=state_partitions,
    group_name="pra_index",
    kinds={"python", "sqlite"},
    tags={"glimmr/domain": "roster"},
    # Scans queue behind each other across runs (limit set by `glimmr init`): the index is one
    # small service, and its rate limit is shared anyway.
    pool="pra_index",
)
def hospital_roster(
    context: dg.AssetExecutionContext, catalog: CatalogResource, pra_index: PraIndexResource
) -> dg.MaterializeResult:
    """Hospitals the PRA index lists in a state, with their price files, kept in the catalog."""
    state = context.partition_key
    if load_settings().test_mode and state not in TEST_MODE_STATES:
        raise dg.Failure(
            description=(
                f"test mode is on (GLIMMR_TEST_MODE): only {', '.join(TEST_MODE_STATES)} are scanned, "
                f"not {state}"
            ),
            allow_retries=False,
        )
    store = catalog.get_catalog()
    with pra_index.get_client(store) as client:
        try:
            scan = scan_state(store, client, state)
        except PraError as exc:
            # The catalog is untouched: the previous roster of the state stays in force.
            raise dg.Failure(description=f"PRA scan of {state} failed: {exc}") from exc

    changes = scan.changes
    if changes.new:
        # Sorted, so each state's hospitals form a contiguous run of keys within the batch.
        context.instance.add_dynamic_partitions(HOSPITAL_PARTITIONS_NAME, changes.open_keys_added)
    context.log.info(
        f"{state}: {changes.hospitals} hospitals ({len(changes.new)} new, {len(changes.changed)} changed, "
        f"{len(changes.removed)} removed, {changes.unchanged} unchanged, {changes.skipped} skipped); "
        f"files {changes.files_new} new, {changes.files_changed} changed, "
        f"{changes.files_unchanged} unchanged, {changes.files_removed} removed"
    )
    summary = changes.summary()
    metadata: dict[str, dg.RawMetadataValue] = {
        name: summary[name]
        for name in (
            "hospitals", "new", "changed", "removed", "unchanged", "skipped",
            "files_listed", "files_new", "files_changed", "files_unchanged", "files_removed",
        )
    }
    metadata["seconds"] = round(scan.seconds, 3)
    metadata["pra_requests"] = scan.requests
    if changes.new:
        metadata["new_hospital_keys"] = dg.MetadataValue.json(changes.new[:_SAMPLE_KEYS])
    if changes.removed:
        metadata["removed_hospital_keys"] = dg.MetadataValue.json(changes.removed[:_SAMPLE_KEYS])
    return dg.MaterializeResult(metadata=metadata)
