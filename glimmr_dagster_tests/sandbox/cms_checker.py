"""An independent checker of the CMS CSV layout and conditional rules, for testing generated files.

It is written from the CMS data dictionary (templates, row rules, conditional requirements), not
from the sandbox's generator, so a generator bug cannot hide behind a shared helper.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from glimmr_dagster.lib.states import STATE_CODES

AFFIRMATION_V2 = (
    "To the best of its knowledge and belief, the hospital has included all applicable standard charge "
    "information in accordance with the requirements of 45 CFR 180.50, and the information encoded is true, "
    "accurate, and complete as of the date indicated."
)
ATTESTATION_V3 = (
    "To the best of its knowledge and belief, this hospital has included all applicable standard charge "
    "information in accordance with the requirements of 45 CFR 180.50, and the information encoded is true, "
    "accurate, and complete as of the date in the file. This hospital has included all payer-specific "
    "negotiated charges in dollars that can be expressed as a dollar amount. For payer-specific negotiated "
    "charges that cannot be expressed as a dollar amount in the machine-readable file or not knowable in "
    "advance, the hospital attests that the payer-specific negotiated charge is based on a contractual "
    "algorithm, percentage or formula that precludes the provision of a dollar amount and has provided all "
    "necessary information available to the hospital for the public to be able to derive the dollar amount, "
    "including, but not limited to, the specific fee schedule or components referenced in such percentage, "
    "algorithm or formula."
)
OPTIONAL_GENERAL = {"financial_aid_policy", "general_contract_provisions"}
CODE_TYPES = {"CPT", "HCPCS", "ICD", "DRG", "MS-DRG", "R-DRG", "S-DRG", "APS-DRG", "AP-DRG", "APR-DRG", "APC",
              "NDC", "HIPPS", "LOCAL", "EAPG", "CDT", "RC", "CDM", "TRIS-DRG"}
CODE_TYPES_V3 = CODE_TYPES | {"CMG", "MS-LTC-DRG"}
SETTINGS = {"inpatient", "outpatient", "both"}
METHODOLOGIES = {"case rate", "fee schedule", "percent of total billed charges", "per diem", "other"}
DRUG_TYPES = {"GR", "ME", "ML", "UN", "F2", "EA", "GM"}
POSITIVE = re.compile(r"^(?:\d+|\d+\.\d+|\d+\.|\.\d+)$")
COUNT = re.compile(r"^(0|1 through 10|1[1-9]|[2-9]\d|[1-9]\d{2,})$")
DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4})$")

# Template row-3 columns; "CODES" expands to code|1, code|1|type, ..., "PAIRS" to the payer groups.
TEMPLATES = {
    ("2.0.0", "tall"): ["description", "CODES", "setting", "drug_unit_of_measurement", "drug_type_of_measurement",
                        "standard_charge|gross", "standard_charge|discounted_cash", "payer_name", "plan_name",
                        "modifiers", "standard_charge|negotiated_dollar", "standard_charge|negotiated_percentage",
                        "standard_charge|negotiated_algorithm", "estimated_amount", "standard_charge|min",
                        "standard_charge|max", "standard_charge|methodology", "additional_generic_notes"],
    ("2.0.0", "wide"): ["description", "CODES", "setting", "drug_unit_of_measurement", "drug_type_of_measurement",
                        "standard_charge|gross", "standard_charge|discounted_cash", "modifiers", "PAIRS",
                        "standard_charge|min", "standard_charge|max", "additional_generic_notes"],
    ("3.0.0", "tall"): ["description", "CODES", "modifiers", "setting", "drug_unit_of_measurement",
                        "drug_type_of_measurement", "standard_charge|gross", "standard_charge|discounted_cash",
                        "payer_name", "plan_name", "standard_charge|negotiated_dollar",
                        "standard_charge|negotiated_percentage", "standard_charge|negotiated_algorithm",
                        "median_amount", "10th_percentile", "90th_percentile", "count",
                        "standard_charge|methodology", "standard_charge|min", "standard_charge|max",
                        "additional_generic_notes"],
    ("3.0.0", "wide"): ["description", "CODES", "modifiers", "setting", "drug_unit_of_measurement",
                        "drug_type_of_measurement", "standard_charge|gross", "standard_charge|discounted_cash",
                        "PAIRS", "standard_charge|min", "standard_charge|max", "additional_generic_notes"],
}
PAIR_GROUPS = {
    "2.0.0": ["standard_charge|{p}|negotiated_dollar", "standard_charge|{p}|negotiated_percentage",
              "standard_charge|{p}|negotiated_algorithm", "estimated_amount|{p}", "standard_charge|{p}|methodology",
              "additional_payer_notes|{p}"],
    "3.0.0": ["standard_charge|{p}|negotiated_dollar", "standard_charge|{p}|negotiated_percentage",
              "standard_charge|{p}|negotiated_algorithm", "median_amount|{p}", "10th_percentile|{p}",
              "90th_percentile|{p}", "count|{p}", "standard_charge|{p}|methodology", "additional_payer_notes|{p}"],
}


@dataclass
class CheckResult:
    version: str = ""
    layout: str = ""
    data_rows: int = 0
    modifier_rows: int = 0
    pairs: list[str] = field(default_factory=list)
    hospital_name: str = ""
    last_updated_on: str = ""
    errors: list[str] = field(default_factory=list)


def _positive(value: str) -> bool:
    return bool(POSITIVE.match(value)) and float(value) > 0


def normalize_header(name: str) -> str:
    """A header as the CMS rules compare it: case-insensitive, spaces around pipes ignored."""
    return "|".join(part.strip() for part in name.split("|")).lower()


def check_cms_csv(data: bytes, *, max_errors: int = 50, encoding: str = "utf-8-sig",
                  strict_headers: bool = True) -> CheckResult:
    """Check a CMS CSV. `strict_headers` wants the template's exact spelling; without it, header
    names compare as the CMS validator compares them (case and spaces around pipes ignored)."""
    text = data.decode(encoding)
    return check_cms_rows(list(csv.reader(io.StringIO(text, newline=""))), max_errors=max_errors,
                          strict_headers=strict_headers)


def check_cms_rows(rows: list[list[str]], *, max_errors: int = 50, strict_headers: bool = True) -> CheckResult:
    """Check the rows of a CMS template (from a CSV, or the cells of a spreadsheet as text)."""
    result = CheckResult()
    errors = result.errors

    def norm(name: str) -> str:
        return name if strict_headers else normalize_header(name)

    if len(rows) >= 3:
        rows = [[norm(name) for name in rows[0]], rows[1], [norm(name) for name in rows[2]], *rows[3:]]
    if len(rows) < 4:
        errors.append("fewer than 4 rows")
        return result
    row1, row2, row3 = rows[0], rows[1], rows[2]

    # Rows 1 and 2: the general data elements.
    general = [name for name in row1 if name != ""]
    if row1[: len(general)] != general:
        errors.append("blank cells inside row 1")
    values = dict(zip(row1, row2))
    result.version = version = values.get("version", "")
    if version not in ("2.0.0", "3.0.0"):
        errors.append(f"row-2 version {version!r} is not 2.0.0 or 3.0.0")
        return result
    license_headers = [name for name in general if name.startswith("license_number|")]
    if len(license_headers) != 1 or license_headers[0].split("|", 1)[1].upper() not in STATE_CODES:
        errors.append(f"license header {license_headers}")
        return result
    if version == "2.0.0":
        expected = ["hospital_name", "last_updated_on", "version", "hospital_location", "hospital_address",
                    license_headers[0], AFFIRMATION_V2]
    else:
        expected = ["hospital_name", "last_updated_on", "version", "location_name", "hospital_address",
                    license_headers[0], "type_2_npi", ATTESTATION_V3, "attester_name"]
    expected = [norm(name) for name in expected]
    if general[: len(expected)] != expected:
        errors.append(f"row 1 {general[:len(expected)]} != template")
    extras = general[len(expected):]
    if not set(extras) <= OPTIONAL_GENERAL or len(set(extras)) != len(extras):
        errors.append(f"unexpected row-1 headers {extras}")
    for name in general:
        if not name.startswith("license_number|") and not values.get(name, "").strip():
            errors.append(f"row-2 value for {name[:40]!r} is empty")
    result.hospital_name = values.get("hospital_name", "")
    result.last_updated_on = values.get("last_updated_on", "")
    if not DATE.match(result.last_updated_on):
        errors.append(f"last_updated_on {result.last_updated_on!r}")
    statement = norm(AFFIRMATION_V2 if version == "2.0.0" else ATTESTATION_V3)
    if values.get(statement, "").lower() not in ("true", "false"):
        errors.append("affirmation/attestation value is not true/false")
    if version == "3.0.0":
        npis = [npi.strip() for npi in values.get("type_2_npi", "").split("|")]
        if not npis or not all(re.fullmatch(r"\d{10}", npi) for npi in npis):
            errors.append(f"type_2_npi {values.get('type_2_npi')!r}")
    locations = values.get("hospital_location" if version == "2.0.0" else "location_name", "").split("|")
    if len(locations) != len(values.get("hospital_address", "").split("|")):
        errors.append("locations and addresses differ in number")

    # Row 3: template order with codes and payer groups expanded.
    header = row3
    if len(set(header)) != len(header):
        errors.append("duplicate row-3 columns")
    code_count = max((int(name.split("|")[1]) for name in header if re.fullmatch(r"code\|\d+", name)), default=0)
    tall = "payer_name" in header and "plan_name" in header
    result.layout = layout = "tall" if tall else "wide"
    pairs: list[str] = []
    for name in header:
        parts = name.split("|")
        if len(parts) == 4 and parts[0] == "standard_charge" and parts[3] == "negotiated_dollar":
            pairs.append(f"{parts[1]}|{parts[2]}")
    result.pairs = pairs
    if tall == bool(pairs):
        errors.append("ambiguous layout: tall columns and wide payer columns")
        return result
    expected3: list[str] = []
    for name in TEMPLATES[(version, layout)]:
        if name == "CODES":
            for index in range(1, code_count + 1):
                expected3 += [f"code|{index}", f"code|{index}|type"]
        elif name == "PAIRS":
            for pair in pairs:
                expected3 += [column.format(p=pair) for column in PAIR_GROUPS[version]]
        else:
            expected3.append(name)
    expected3 = [norm(name) for name in expected3]
    if header != expected3:
        errors.append(f"row 3 does not follow the template: {header} vs {expected3}")
        return result
    if len(row1) != len(header) or len(row2) != len(header):
        errors.append("rows 1-2 are not padded to the width of row 3")

    # Data rows.
    code_types = CODE_TYPES_V3 if version == "3.0.0" else CODE_TYPES
    groups = [None] if tall else pairs
    for number, cells in enumerate(rows[3:], start=4):
        if len(errors) >= max_errors:
            break
        if cells == [] or cells == [""]:
            continue
        result.data_rows += 1
        if len(cells) != len(header):
            errors.append(f"row {number}: {len(cells)} cells, header has {len(header)}")
            continue
        row = dict(zip(header, cells))

        def fail(message: str) -> None:
            errors.append(f"row {number}: {message}")

        if not row["description"].strip():
            fail("description is empty")
        codes = []
        for index in range(1, code_count + 1):
            code, code_type = row[f"code|{index}"], row[f"code|{index}|type"]
            if bool(code) != bool(code_type):
                fail(f"code|{index} and its type must come together")
            if code_type and code_type not in code_types:
                fail(f"code type {code_type!r}")
            if code:
                codes.append((code, code_type))

        def charges(group: str | None) -> tuple[str, str, str]:
            if group is None:
                return (row["standard_charge|negotiated_dollar"], row["standard_charge|negotiated_percentage"],
                        row["standard_charge|negotiated_algorithm"])
            return (row[f"standard_charge|{group}|negotiated_dollar"],
                    row[f"standard_charge|{group}|negotiated_percentage"],
                    row[f"standard_charge|{group}|negotiated_algorithm"])

        if not codes:
            if not row["modifiers"]:
                fail("no code pair and no modifier")
                continue
            # A modifier-only row needs a negotiated charge or notes, nothing else.
            result.modifier_rows += 1
            has_note = bool(row["additional_generic_notes"]) or any(
                row[f"additional_payer_notes|{pair}"] for pair in pairs)
            if not (has_note or any(any(charges(group)) for group in groups)):
                fail("modifier row without charge or notes")
            continue

        if row["setting"] not in SETTINGS:
            fail(f"setting {row['setting']!r}")
        numeric = ["standard_charge|gross", "standard_charge|discounted_cash", "standard_charge|min",
                   "standard_charge|max", "drug_unit_of_measurement"]
        for group in groups:
            suffix = "" if group is None else f"|{group}"
            prefix = "standard_charge" if group is None else f"standard_charge|{group}"
            numeric += [f"{prefix}|negotiated_dollar", f"{prefix}|negotiated_percentage"]
            numeric += ([f"estimated_amount{suffix}"] if version == "2.0.0"
                        else [f"median_amount{suffix}", f"10th_percentile{suffix}", f"90th_percentile{suffix}"])
        for column in numeric:
            if row[column] and not _positive(row[column]):
                fail(f"{column} {row[column]!r} is not a positive number")

        any_charge = bool(row["standard_charge|gross"] or row["standard_charge|discounted_cash"])
        any_dollar = False
        for group in groups:
            dollar, percentage, algorithm = charges(group)
            any_charge = any_charge or bool(dollar or percentage or algorithm)
            any_dollar = any_dollar or bool(dollar)
            if group is None:
                methodology, notes = row["standard_charge|methodology"], row["additional_generic_notes"]
                payer, plan = row["payer_name"], row["plan_name"]
                count = row.get("count", "")
                estimated = row.get("estimated_amount", "")
                amounts = [row.get("median_amount", ""), row.get("10th_percentile", ""), row.get("90th_percentile", "")]
            else:
                methodology, notes = row[f"standard_charge|{group}|methodology"], row[f"additional_payer_notes|{group}"]
                payer, plan = group.split("|")
                count = row.get(f"count|{group}", "")
                estimated = row.get(f"estimated_amount|{group}", "")
                amounts = [row.get(f"median_amount|{group}", ""), row.get(f"10th_percentile|{group}", ""),
                           row.get(f"90th_percentile|{group}", "")]
            if methodology and methodology not in METHODOLOGIES:
                fail(f"methodology {methodology!r}")
            if dollar or percentage or algorithm:
                if not (payer and plan and methodology):
                    fail("payer-specific charge without payer, plan or methodology")
                if methodology == "other" and not notes:
                    fail("methodology other without notes")
            elif group is None and version == "3.0.0" and (payer or plan):
                fail("payer and plan without a negotiated charge")
            if (percentage or algorithm) and version == "2.0.0" and not dollar and not estimated:
                fail("percentage/algorithm without estimated_amount")
            if (percentage or algorithm) and version == "3.0.0":
                if not COUNT.match(count):
                    fail(f"count {count!r}")
                elif count != "0" and not all(amounts):
                    fail("percentage/algorithm without median/10th/90th")
            if count == "0" and not notes:
                fail("count 0 without notes")
        if not any_charge:
            fail("item without any charge")
        if any_dollar and not (row["standard_charge|min"] and row["standard_charge|max"]):
            fail("negotiated dollar without min and max")
        unit, unit_type = row["drug_unit_of_measurement"], row["drug_type_of_measurement"]
        if (unit or unit_type) and not (unit and unit_type in DRUG_TYPES):
            fail(f"drug unit {unit!r} / type {unit_type!r}")
        if any(code_type == "NDC" for _, code_type in codes) and not (unit and unit_type):
            fail("NDC code without drug unit and type")
        if row["standard_charge|min"] and row["standard_charge|max"] and \
                float(row["standard_charge|min"]) > float(row["standard_charge|max"]):
            fail("min greater than max")
    if result.data_rows == 0:
        errors.append("no data rows")
    return result
