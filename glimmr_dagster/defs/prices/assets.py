"""A hospital's standard charges: its current price files parsed into the Parquet lake."""

import dagster as dg

from ...lib.parsing import PARSER_VERSION, SCHEMA_VERSION
from ...lib.settings import load_settings
from ...lib.standard_charges import FAILED, PARSED, REUSED, parse_hospital
from ..acquisition.assets import hospital_price_files
from ..acquisition.resources import RawStoreResource
from ..partitions import hospital_partitions
from ..resources import CatalogResource
from ..tags import REPARSE_TAG
from .resources import LakeResource

ALL_FILES_PARSED = "all_files_parsed"


@dg.asset(
    partitions_def=hospital_partitions,
    group_name="hospital_files",
    kinds={"python", "parquet"},
    deps=[hospital_price_files],
    check_specs=[
        dg.AssetCheckSpec(
            ALL_FILES_PARSED,
            asset="hospital_standard_charges",
            description="Every current price file of the hospital parsed into the standard-charges table.",
        )
    ],
)
def hospital_standard_charges(
    context: dg.AssetExecutionContext,
    catalog: CatalogResource,
    raw_store: RawStoreResource,
    lake: LakeResource,
) -> dg.MaterializeResult:
    """The hospital's standard charges, one Parquet file per current price-file version."""
    key = context.partition_key
    settings = load_settings()
    parsed = parse_hospital(
        catalog.get_catalog(),
        key,
        key.split("-", 1)[0],
        raw_store.get_store(),
        lake.get_lake(),
        work_dir=settings.tmp_dir / f"parse-{context.run_id}",
        run_id=context.run_id,
        force=context.run.tags.get(REPARSE_TAG, "").lower() == "true",
        log=context.log.info,
    )
    failures = parsed.failures
    if not parsed.landed:
        raise dg.Failure(
            description=f"no price file of {key} could be parsed: "
            + "; ".join(failure.describe() for failure in failures),
            allow_retries=False,
        )
    return dg.MaterializeResult(
        metadata={
            "rows_read": parsed.total("rows_read"),
            "rows_written": parsed.total("rows_written"),
            "rows_rejected": parsed.total("rows_rejected"),
            "files_parsed": parsed.count(PARSED),
            "files_reused": parsed.count(REUSED),
            "files_failed": parsed.count(FAILED),
            "rejects_by_reason": dg.MetadataValue.json(parsed.merged("rejects_by_reason")),
            "cells_not_carried": dg.MetadataValue.json(parsed.merged("cells_not_carried")),
            "codes_by_type": dg.MetadataValue.json(parsed.merged("codes_by_type")),
            "payers": len(parsed.payers),
            "payer_names": dg.MetadataValue.json(parsed.payers[:50]),
            "parser_version": PARSER_VERSION,
            "schema_version": SCHEMA_VERSION,
            "seconds": round(parsed.seconds, 3),
            "files": dg.MetadataValue.json([f.describe() for f in parsed.files]),
            "lake_paths": dg.MetadataValue.json([f.lake_path for f in parsed.files if f.lake_path]),
        },
        data_version=dg.DataVersion(parsed.data_version),
        check_results=[
            dg.AssetCheckResult(
                check_name=ALL_FILES_PARSED,
                passed=not failures,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"files_failed": len(failures),
                          "failures": dg.MetadataValue.json([f.describe() for f in failures])},
                description=None if not failures else "; ".join(f.describe() for f in failures),
            )
        ],
    )
