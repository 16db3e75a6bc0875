"""A hospital's price files: acquired when the index says they changed (or when forced)."""

import dagster as dg

from ...lib.acquire import Downloader, DownloadSettings
from ...lib.acquisition import acquire_hospital_files
from ..partitions import hospital_partitions
from ..resources import CatalogResource, PraIndexResource
from ..roster.assets import hospital_roster
from ..tags import is_forced
from .resources import RawStoreResource

ALL_FILES_ACQUIRED = "all_files_acquired"


@dg.asset(
    partitions_def=hospital_partitions,
    group_name="hospital_files",
    kinds={"python"},
    # Every hospital depends on the whole roster; nothing automates on this edge (the change
    # sensor decides which hospitals run), so one state's scan never re-requests every hospital.
    deps=[dg.AssetDep(hospital_roster, partition_mapping=dg.AllPartitionMapping())],
    # Bounds downloads across runs (limit written by `glimmr init`); hosts are capped in process.
    pool="downloads",
    # The downloader already retries within a file; this catches a run-wide transient failure.
    retry_policy=dg.RetryPolicy(max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS),
    check_specs=[
        dg.AssetCheckSpec(
            ALL_FILES_ACQUIRED,
            asset="hospital_price_files",
            description="Every price file the index lists for the hospital was acquired in this run.",
        )
    ],
)
def hospital_price_files(
    context: dg.AssetExecutionContext,
    catalog: CatalogResource,
    pra_index: PraIndexResource,
    raw_store: RawStoreResource,
) -> dg.MaterializeResult:
    """The hospital's price files, stored by content hash, current as of the index's listing."""
    store = catalog.get_catalog()
    pra_settings = pra_index.settings()
    settings = DownloadSettings.from_environment([pra_settings.api_url, pra_settings.storage_url])
    with pra_index.get_client(store) as pra, Downloader(
        settings, raw_store.get_store(), on_progress=lambda progress: context.log.info(progress.describe())
    ) as downloader:
        acquired = acquire_hospital_files(
            store,
            context.partition_key,
            downloader,
            run_id=context.run_id,
            forced=is_forced(context.run.tags),
            mirror_url_for=pra.mirror_url,
            log=context.log.info,
        )

    failures = acquired.failures
    if not acquired.landed:
        message = "; ".join(failure.describe() for failure in failures)
        raise dg.Failure(
            description=f"no price file of {context.partition_key} could be acquired: {message}",
            # Worth another try only when some failure was transient (timeouts, 5xx, 429).
            allow_retries=any(failure.transient for failure in failures),
            metadata={"files_failed": len(failures)},
        )
    return dg.MaterializeResult(
        metadata={
            "files_new": acquired.count("new"),
            "files_changed": acquired.count("changed"),
            "files_unchanged": acquired.files_unchanged,
            "files_failed": len(failures),
            "files_reused": sum(1 for result in acquired.results if result.reused),
            "bytes": acquired.bytes,
            "seconds": round(acquired.seconds, 3),
            "forced": acquired.forced,
            "content_hashes": dg.MetadataValue.json(sorted(acquired.current_sha256s)),
            "outcomes": dg.MetadataValue.json([result.describe() for result in acquired.results]),
        },
        data_version=dg.DataVersion(acquired.data_version),
        check_results=[
            dg.AssetCheckResult(
                check_name=ALL_FILES_ACQUIRED,
                passed=not failures,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "files_failed": len(failures),
                    "failures": dg.MetadataValue.json([failure.describe() for failure in failures]),
                },
                description=None if not failures else "; ".join(failure.describe() for failure in failures),
            )
        ],
    )
