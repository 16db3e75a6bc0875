"""Deterministic generators for the parsing benchmark files.

Each generator writes a CMS v3.0 file of roughly the requested size into a work directory (never
into the repository) and returns what it wrote. Randomness comes from hashing row numbers with
a seed, so the same arguments give the same bytes (with the same polars version) and a benchmark run
can reuse a file generated earlier.

The content imitates real files (Martha's Vineyard tall CSV, MD Anderson's wide CSV, Northside's
JSON): repeated item rows with one row per payer/plan, several code pairs per row, mostly plain
numbers, and a small share of the quirks the parser has to normalize ("$1,234.50" money,
mixed-case settings, unknown methodologies, nine-9s placeholders, exact duplicate rows), so the
benchmark pays for the slow paths the way a real file does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import polars as pl

ATTESTATION = (
    "To the best of its knowledge and belief, this hospital has included all applicable standard "
    "charge information in accordance with the requirements of 45 CFR 180.50, and the information "
    "encoded is true, accurate, and complete as of the date in the file. This hospital has included "
    "all payer-specific negotiated charges in dollars that can be expressed as a dollar amount. For "
    "payer-specific negotiated charges that cannot be expressed as a dollar amount in the "
    "machine-readable file or not knowable in advance, the hospital attests that the payer-specific "
    "negotiated charge is based on a contractual algorithm, percentage or formula that precludes the "
    "provision of a dollar amount and has provided all necessary information available to the "
    "hospital for the public to be able to derive the dollar amount, including, but not limited to, "
    "the specific fee schedule or components referenced in such percentage, algorithm or formula."
)

GENERAL_HEADER = [
    "hospital_name", "last_updated_on", "version", "location_name", "hospital_address",
    "license_number|MA", "type_2_npi", ATTESTATION, "attester_name",
]
GENERAL_VALUES = [
    "Bench General Hospital", "2026-03-27", "3.0.0", "Bench General Hospital|Bench Surgical Center",
    "1 Main St, Springfield, MA 01101|2 Main St, Springfield, MA 01101", "2042",
    "1194866210|1194866211", "true", "Pat Attester",
]

PAYERS = [
    ("MEDICARE [2001]", "HB MEDICARE"),
    ("BLUE CROSS BLUE SHIELD [110001]", "HB BLUE CROSS HMO"),
    ("BLUE CROSS BLUE SHIELD [110001]", "HB BLUE CROSS PPO"),
    ("BLUE CROSS BLUE SHIELD [110001]", "HB BLUE CROSS INDEMNITY"),
    ("AETNA [1001]", "HB AETNA"),
    ("CIGNA [1006]", "HB CIGNA HMO / PPO"),
    ("HARVARD PILGRIM [120001]", "HB HPHC HMO / POS / PPO"),
    ("MGB HEALTH PLAN [150001]", "HB MGBHP COMMERCIAL GIC"),
    ("MGB HEALTH PLAN [150001]", "HB MGBHP COMMERCIAL HMO"),
    ("TUFTS HEALTH PLAN [130001]", "HB TUFTS MEDICARE PREFERRED"),
    ("UNITED HEALTHCARE [140001]", "HB UHC CHOICE PLUS"),
    ("UNITED HEALTHCARE [140001]", "HB UHC MEDICARE ADVANTAGE"),
    ("MASSHEALTH [160001]", "HB MASSHEALTH ACO"),
    ("WELLSENSE [170001]", "HB WELLSENSE ACO"),
    ("ALLWAYS HEALTH [180001]", "HB ALLWAYS COMMERCIAL"),
    ("SENIOR WHOLE HEALTH [190001]", "HB SWH SCO"),
    ("HUMANA [200001]", "HB HUMANA MEDICARE"),
    ("FALLON [210001]", "HB FALLON NAVICARE"),
    ("COMMONWEALTH CARE ALLIANCE [220001]", "HB CCA ONE CARE"),
    ("HEALTH NEW ENGLAND [230001]", "HB HNE COMMERCIAL"),
    ("ANTHEM [240001]", "HB ANTHEM PPO"),
    ("OSCAR [250001]", "HB OSCAR EPO"),
    ("AMBETTER [260001]", "HB AMBETTER MARKETPLACE"),
    ("MULTIPLAN [270001]", "HB MULTIPLAN PHCS"),
]
PAYERS_PER_ITEM = len(PAYERS)

WORDS = [
    "Colonoscopy", "Biopsy", "MRI", "Brain", "Without", "Contrast", "Knee", "Replacement", "Panel",
    "Metabolic", "Ecg", "Interpretation", "Report", "Injection", "Tablet", "Lab", "Culture", "Xray",
    "Chest", "Ultrasound", "Abdomen", "Office", "Visit", "Level", "Therapy", "Session", "Implant",
]
METHODOLOGIES = ["percent of total billed charges", "fee schedule", "case rate", "per diem", "other"]
SETTINGS = ["outpatient", "inpatient", "both"]

TALL_HEADER = [
    "description", "code|1", "code|1|type", "code|2", "code|2|type", "code|3", "code|3|type",
    "code|4", "code|4|type", "modifiers", "setting", "drug_unit_of_measurement",
    "drug_type_of_measurement", "standard_charge|gross", "standard_charge|discounted_cash",
    "payer_name", "plan_name", "standard_charge|negotiated_dollar",
    "standard_charge|negotiated_percentage", "standard_charge|negotiated_algorithm",
    "median_amount", "10th_percentile", "90th_percentile", "count", "standard_charge|min",
    "standard_charge|max", "standard_charge|methodology", "additional_generic_notes",
]


@dataclass(frozen=True)
class GeneratedFile:
    path: Path
    size_bytes: int
    data_rows: int  # CSV: data records after row 3; JSON: standard_charge_information items


def _csv_line(cells: list[str]) -> str:
    out = []
    for cell in cells:
        if any(ch in cell for ch in ',"\n\r'):
            cell = '"' + cell.replace('"', '""') + '"'
        out.append(cell)
    return ",".join(out) + "\n"


def _money(cents: pl.Expr) -> pl.Expr:
    """Cents as a plain decimal string ("1234.56")."""
    return pl.format(
        "{}.{}", (cents // 100).cast(pl.String), (cents % 100).cast(pl.String).str.zfill(2)
    )


def _dollar_formatted(cents: pl.Expr) -> pl.Expr:
    """Cents as "$1,234.56", the way spreadsheets export currency."""
    dollars = (cents // 100).cast(pl.String)
    with_commas = (
        dollars.str.reverse().str.replace_all(r"(\d{3})", "$1,").str.reverse().str.strip_chars_start(",")
    )
    return pl.format("${}.{}", with_commas, (cents % 100).cast(pl.String).str.zfill(2))


def _pick(values: list[str], index: pl.Expr) -> pl.Expr:
    return pl.lit(pl.Series(values, dtype=pl.String)).gather(index)


def _uniform(key: pl.Expr, seed: int) -> pl.Expr:
    """A deterministic pseudo-random number in [0, 1) per key."""
    return (key.hash(seed) % 1_000_003).cast(pl.Float64) / 1_000_003


def _tall_chunk(first_row: int, n: int, seed: int) -> pl.DataFrame:
    df = pl.DataFrame({"row": pl.int_range(first_row, first_row + n, eager=True, dtype=pl.Int64)})
    df = df.with_columns(item=pl.col("row") // PAYERS_PER_ITEM, payer=pl.col("row") % PAYERS_PER_ITEM)
    # Per-item values (gross charge) depend on the item only, so every payer row agrees.
    df = df.with_columns(
        gross=(2_000 + _uniform(pl.col("item"), seed) * 5_000_000).cast(pl.Int64),
        **{f"u{k}": _uniform(pl.col("row"), seed + k + 1) for k in range(8)},
    )
    word_a = (pl.col("item") * 7 % len(WORDS)).cast(pl.UInt32)
    word_b = (pl.col("item") * 13 % len(WORDS)).cast(pl.UInt32)
    is_drug = (pl.col("item") % 97) == 5
    is_drg = (pl.col("item") % 53) == 7
    is_hcpcs = (pl.col("item") % 5) == 1
    percent_based = pl.col("u1") < 0.35
    algorithm_based = pl.col("u1") > 0.97
    dollar_cents = (pl.col("gross") * (0.3 + 0.6 * pl.col("u2"))).cast(pl.Int64) + 1
    median_cents = (pl.col("gross") * (0.2 + 0.5 * pl.col("u3"))).cast(pl.Int64) + 1
    out = df.select(
        description=pl.format(
            "{} {} {}", _pick(WORDS, word_a), _pick(WORDS, word_b), pl.col("item").cast(pl.String)
        ),
        code_1=pl.format("PX-{}", (30_000_000 + pl.col("item")).cast(pl.String)),
        code_1_type=pl.lit("CDM"),
        code_2=pl.when(is_drg)
        .then((pl.col("item") % 999 + 1).cast(pl.String))  # DRGs published without zero padding
        .when(is_hcpcs)
        .then(pl.format("J{}", (pl.col("item") % 9000 + 1000).cast(pl.String)))
        .otherwise((10_000 + pl.col("item") * 7 % 89_999).cast(pl.String)),
        code_2_type=pl.when(is_drg)
        .then(pl.lit("MS-DRG"))
        .when(is_hcpcs)
        .then(pl.lit("HCPCS"))
        .otherwise(pl.lit("CPT")),
        code_3=pl.format("0{}", (300 + pl.col("item") % 700).cast(pl.String)),
        code_3_type=pl.lit("RC"),
        code_4=pl.when(is_drug).then(
            pl.format("{}-0729-62", (10_000 + pl.col("item") % 89_999).cast(pl.String))
        ),
        code_4_type=pl.when(is_drug).then(pl.lit("NDC")),
        modifiers=pl.when((pl.col("item") % 101) == 3).then(pl.lit("26")),
        setting=pl.when(pl.col("u4") < 0.002)
        .then(pl.lit("Outpatient"))
        .otherwise(_pick(SETTINGS, (pl.col("item") % 3).cast(pl.UInt32))),
        drug_unit=pl.when(is_drug).then(pl.lit("1")),
        drug_type=pl.when(is_drug).then(pl.lit("UN")),
        gross=pl.when(pl.col("u5") < 0.005)
        .then(_dollar_formatted(pl.col("gross")))
        .otherwise(_money(pl.col("gross"))),
        cash=_money((pl.col("gross") * 3) // 4),
        payer_name=_pick([p for p, _ in PAYERS], pl.col("payer").cast(pl.UInt32)),
        plan_name=_pick([q for _, q in PAYERS], pl.col("payer").cast(pl.UInt32)),
        dollar=pl.when(~algorithm_based).then(_money(dollar_cents)),
        percentage=pl.when(percent_based).then(
            (50 + (pl.col("u6") * 50).round(1)).cast(pl.String)
        ),
        algorithm=pl.when(algorithm_based).then(
            pl.format(
                "Case rate (${}). Procedures on each service date are sorted highest to lowest, "
                "reimbursed at 100%, 50%, 25%.",
                _money(dollar_cents),
            )
        ),
        median=pl.when(percent_based | algorithm_based).then(
            pl.when(pl.col("u7") < 0.001)
            .then(pl.lit("999999999"))
            .otherwise(_money(median_cents))
        ),
        p10=pl.when(percent_based | algorithm_based).then(_money(median_cents // 2 + 1)),
        p90=pl.when(percent_based | algorithm_based).then(_money(median_cents * 2)),
        count=pl.when(percent_based | algorithm_based).then(
            pl.when(pl.col("u6") < 0.6)
            .then(pl.lit("1 through 10"))
            .otherwise((11 + pl.col("row") % 200).cast(pl.String))
        ),
        minimum=_money(pl.col("gross") // 5 + 1),
        maximum=_money(pl.col("gross")),
        methodology=pl.when(pl.col("u4") > 0.999)
        .then(pl.lit("capitation"))
        .when(percent_based)
        .then(pl.lit("percent of total billed charges"))
        .otherwise(_pick(METHODOLOGIES, (pl.col("row") % 5).cast(pl.UInt32))),
        notes=pl.when((pl.col("row") % 5) == 4)
        .then(pl.lit("Methodology is explained in algorithm data element."))
        .when(pl.col("u0") < 0.02)
        .then(
            pl.lit(
                "Zero final payments for the item or service in the 15 months prior to posting the file."
            )
        ),
    )
    # About one row in 2,000 repeats the row before it exactly: a duplicate the parser must drop.
    repeat_previous = (df["u0"] > 0.9995) & (df["row"] > first_row)
    index = pl.int_range(0, n, eager=True, dtype=pl.Int64) - repeat_previous.cast(pl.Int64)
    return out[index]


def write_tall_csv(path: Path, target_bytes: int, seed: int = 2026) -> GeneratedFile:
    """A CMS v3.0 tall CSV of about `target_bytes`, one row per item × payer/plan."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".partial")
    rows = 0
    chunk_rows = 200_000
    with open(tmp, "wb") as handle:
        handle.write(_csv_line(GENERAL_HEADER).encode())
        handle.write(_csv_line(GENERAL_VALUES).encode())
        handle.write(_csv_line(TALL_HEADER).encode())
        while handle.tell() < target_bytes:
            chunk = _tall_chunk(rows, chunk_rows, seed)
            chunk.write_csv(handle, include_header=False)
            rows += chunk.height
    os.replace(tmp, path)
    return GeneratedFile(path, path.stat().st_size, rows)


WIDE_FIELDS_4 = ["negotiated_dollar", "negotiated_percentage", "negotiated_algorithm", "methodology"]
WIDE_FIELDS_3 = ["median_amount", "10th_percentile", "90th_percentile", "count", "additional_payer_notes"]


def wide_payer_plans(pairs: int) -> list[tuple[str, str]]:
    """Payer/plan names shaped like MD Anderson's: underscores, commas, odd casing."""
    payers = [
        "Aetna", "BlueCrossBlueShield", "Cigna", "Humana", "UnitedHealthcare", "Wellcare",
        "Ambetter", "Molina", "Superior", "Baylor_Scott_White", "Memorial_Hermann", "Oscar",
        "Scott_and_White", "Texas_Childrens", "Community_Health_Choice",
    ]
    plans = [
        "Commercial", "HMO_Inpatient", "PPO_Outpatient", "Medicare_Advantage", "Medicaid",
        "Marketplace", "HMO_Inpatient_SCT_DRG14,16,17", "World_Trade_Center_ Inpatient_Rate",
        "EPO", "POS",
    ]
    out = []
    for i in range(pairs):
        out.append((payers[i % len(payers)], f"{plans[(i // len(payers)) % len(plans)]}_{i}"))
    return out


def wide_header(pairs: int) -> list[str]:
    header = [
        "description", "code|1", "code|1|type", "code|2", "code|2|type", "modifiers", "setting",
        "drug_unit_of_measurement", "drug_type_of_measurement", "standard_charge|gross",
        "standard_charge|discounted_cash",
    ]
    for payer, plan in wide_payer_plans(pairs):
        header += [f"standard_charge|{payer}|{plan}|{f}" for f in WIDE_FIELDS_4[:3]]
        header += [f"{f}|{payer}|{plan}" for f in WIDE_FIELDS_3[:4]]
        header += [f"standard_charge|{payer}|{plan}|methodology", f"additional_payer_notes|{payer}|{plan}"]
    header += ["standard_charge|min", "standard_charge|max", "additional_generic_notes"]
    return header


def _wide_chunk(first_row: int, n: int, pairs: int, fill: float, seed: int) -> pl.DataFrame:
    base = pl.DataFrame({"row": pl.int_range(first_row, first_row + n, eager=True, dtype=pl.Int64)})
    base = base.with_columns(gross=(2_000 + _uniform(pl.col("row"), seed) * 5_000_000).cast(pl.Int64))
    base_cols = base.select(
        description=pl.format(
            "{} service {}",
            _pick(WORDS, (pl.col("row") * 7 % len(WORDS)).cast(pl.UInt32)),
            pl.col("row").cast(pl.String),
        ),
        code_1=(10_000 + pl.col("row") * 7 % 89_999).cast(pl.String),
        code_1_type=pl.lit("CPT"),
        code_2=pl.format("0{}", (300 + pl.col("row") % 700).cast(pl.String)),
        code_2_type=pl.lit("RC"),
        modifiers=pl.lit(None, dtype=pl.String),
        setting=_pick(SETTINGS, (pl.col("row") % 3).cast(pl.UInt32)),
        drug_unit=pl.lit(None, dtype=pl.String),
        drug_type=pl.lit(None, dtype=pl.String),
        gross=_money(pl.col("gross")),
        cash=_money(pl.col("gross") * 3 // 4),
    )
    blocks = []
    for p in range(pairs):
        f = _uniform(pl.col("row"), seed + 3 * p + 1) < fill
        pct = _uniform(pl.col("row"), seed + 3 * p + 2) < 0.3
        cents = (pl.col("gross") * (0.3 + 0.6 * _uniform(pl.col("row"), seed + 3 * p + 3))).cast(pl.Int64) + 1
        blocks.append(
            base.select(
                pl.when(f & ~pct).then(_money(cents)).alias(f"p{p}_dollar"),
                pl.when(f & pct).then((cents % 60 + 40).cast(pl.String)).alias(f"p{p}_percentage"),
                pl.lit(None, dtype=pl.String).alias(f"p{p}_algorithm"),
                pl.when(f & pct).then(_money(cents)).alias(f"p{p}_median"),
                pl.when(f & pct).then(_money(cents // 2 + 1)).alias(f"p{p}_p10"),
                pl.when(f & pct).then(_money(cents * 2)).alias(f"p{p}_p90"),
                pl.when(f & pct).then(pl.lit("1 through 10")).alias(f"p{p}_count"),
                pl.when(f)
                .then(
                    pl.when(pct)
                    .then(pl.lit("percent of total billed charges"))
                    .otherwise(pl.lit("fee schedule"))
                )
                .alias(f"p{p}_methodology"),
                pl.when(f & ((cents % 50) == 0))
                .then(pl.lit("Rate applies to facility place of service"))
                .alias(f"p{p}_notes"),
            )
        )
    tail = base.select(
        tail_minimum=_money(pl.col("gross") // 5 + 1),
        tail_maximum=_money(pl.col("gross")),
        tail_notes=pl.lit(None, dtype=pl.String),
    )
    return pl.concat([base_cols, *blocks, tail], how="horizontal")


def write_wide_csv(
    path: Path, target_bytes: int, pairs: int = 140, fill: float = 0.2, seed: int = 2026
) -> GeneratedFile:
    """A CMS v3.0 wide CSV with `pairs` payer/plan pairs (9 columns each) of about `target_bytes`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".partial")
    header = wide_header(pairs)
    rows = 0
    chunk_rows = 5_000
    with open(tmp, "wb") as handle:
        pad = [""] * (len(header) - len(GENERAL_HEADER))
        handle.write(_csv_line(GENERAL_HEADER + pad).encode())
        handle.write(_csv_line(GENERAL_VALUES + pad).encode())
        handle.write(_csv_line(header).encode())
        while handle.tell() < target_bytes:
            chunk = _wide_chunk(rows, chunk_rows, pairs, fill, seed)
            chunk.write_csv(handle, include_header=False)
            rows += chunk.height
    os.replace(tmp, path)
    return GeneratedFile(path, path.stat().st_size, rows)


def _json_item(index: int, rng: random.Random) -> dict:
    gross = rng.randrange(2_000, 5_000_000) / 100
    codes = [
        {"code": f"{(300 + index % 700):04d}", "type": "RC"},
        {"code": str(10_000 + index * 7 % 89_999), "type": "CPT"},
    ]
    if index % 3 == 0:
        codes.insert(1, {"code": f"{index % 9999:05d}", "type": "APC"})
    settings = ["outpatient"] if index % 4 else ["inpatient", "outpatient"]
    charges = []
    for setting in settings:
        payers = []
        for p in range(rng.randrange(12, 36)):
            payer, plan = PAYERS[p % len(PAYERS)]
            info: dict = {"payer_name": payer, "plan_name": plan}
            choice = rng.random()
            if choice < 0.65:
                info["standard_charge_dollar"] = round(gross * (0.3 + 0.6 * rng.random()), 2)
                info["methodology"] = "fee schedule"
            elif choice < 0.95:
                info["standard_charge_percentage"] = round(40 + 60 * rng.random(), 1)
                median = round(gross * (0.2 + 0.5 * rng.random()), 2)
                info["median_amount"] = median
                info["10th_percentile"] = round(median / 2, 2)
                info["90th_percentile"] = round(median * 2, 2)
                info["count"] = "1 through 10" if rng.random() < 0.6 else str(rng.randrange(11, 300))
                info["methodology"] = "percent of total billed charges"
            else:
                info["standard_charge_algorithm"] = (
                    "Allowed amount is 130% of the Medicare fee schedule amount for this service."
                )
                info["median_amount"] = round(gross / 2, 2)
                info["10th_percentile"] = round(gross / 4, 2)
                info["90th_percentile"] = round(gross, 2)
                info["count"] = "14"
                info["methodology"] = "other"
                info["additional_payer_notes"] = "Methodology is explained in algorithm data element."
            payers.append(info)
        charges.append(
            {
                "setting": setting,
                "gross_charge": gross,
                "discounted_cash": round(gross * 0.75, 2),
                "minimum": round(gross / 5, 2),
                "maximum": gross,
                "payers_information": payers,
            }
        )
    return {
        "description": f"{WORDS[index * 7 % len(WORDS)]} {WORDS[index * 13 % len(WORDS)]} {index}",
        "code_information": codes,
        "standard_charges": charges,
    }


def write_json(path: Path, target_bytes: int, seed: int = 2026) -> GeneratedFile:
    """A CMS v3.0 JSON file of about `target_bytes`; modifier_information follows the items."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".partial")
    rng = random.Random(seed)
    header = {
        "hospital_name": "Bench General Hospital",
        "last_updated_on": "2026-03-27",
        "version": "3.0.0",
        "location_name": ["Bench General Hospital", "Bench Surgical Center"],
        "hospital_address": ["1 Main St, Springfield, MA 01101", "2 Main St, Springfield, MA 01101"],
        "license_information": {"license_number": "2042", "state": "MA"},
        "attestation": {"attestation": ATTESTATION, "confirm_attestation": True, "attester_name": "Pat Attester"},
        "type_2_npi": ["1194866210"],
    }
    items = 0
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(header, indent=2)[:-2] + ',\n  "standard_charge_information": [\n')
        separator = ""
        while handle.tell() < target_bytes:
            handle.write(separator + json.dumps(_json_item(items, rng), separators=(", ", ": ")))
            separator = ",\n"
            items += 1
        modifiers = [{"description": "Bilateral procedure", "code": "50", "setting": "both", "modifier_payer_information": [{"payer_name": p, "plan_name": q, "description": "150% payment adjustment"} for p, q in PAYERS[:3]]}]
        handle.write('\n  ],\n  "modifier_information": ' + json.dumps(modifiers) + "\n}\n")
    os.replace(tmp, path)
    return GeneratedFile(path, path.stat().st_size, items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["tall", "wide", "json"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--megabytes", type=float, default=100)
    args = parser.parse_args()
    target = int(args.megabytes * 1_000_000)
    writer = {"tall": write_tall_csv, "wide": write_wide_csv, "json": write_json}[args.kind]
    print(writer(args.path, target))


if __name__ == "__main__":
    main()
