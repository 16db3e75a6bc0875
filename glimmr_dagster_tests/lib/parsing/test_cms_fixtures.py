"""Every official CMS example and every real v3 file in the shared fixtures, parsed for real.

Expected counts were established without the parser: data rows counted with Python's csv module
(rows after the header row, skipping empty rows), wide rows counted as the payer/plan blocks with
at least one non-empty cell per source row (at least one row per source row), JSON rows as
payers_information objects (one per standard_charges entry that has none) plus
modifier_information × modifier_payer_information entries, counted with the json module. Spot
values were read from the files' text by eye (the line is quoted in each test).
"""

from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq
import pytest

from glimmr_dagster.lib.parsing import PRICE_TABLE_SCHEMA, NotACmsTemplateError

from .conftest import CMS_FIXTURES, fixture_path

# (relative path, layout, cms_version, source rows read, table rows written)
EXAMPLES = [
    ("examples/v2.0/V2.0.0_Tall_CSV_Format_Example.csv", "csv-tall", "2.0", 31, 31),
    ("examples/v2.0/V2.0.0_Wide_CSV_Format_Example.csv", "csv-wide", "2.0", 20, 33),
    ("examples/v2.0/V2.0.0_JSON_Format_Example.json", "json", "2.0", 31, 31),
    ("examples/v2.0/V2.0.0_Tall_CSV_Format_Template.csv", "csv-tall", "2.0", 0, 0),
    ("examples/v2.0/V2.0.0_Wide_CSV_Format_Template.csv", "csv-wide", "2.0", 0, 0),
    ("examples/v2.0/history-2024-01-31/V2.0.0_Tall_CSV_Format_Example.csv", "csv-tall", "2.0", 13, 13),
    ("examples/v2.0/history-2024-01-31/V2.0.0_Wide_CSV_Format_Example.csv", "csv-wide", "2.0", 10, 15),
    ("examples/v2.0/history-2024-01-31/V2.0.0_JSON_Format_Example.json", "json", "2.0", 13, 13),
    ("examples/v2.1/V2.0.0_Tall_CSV_Format_Example.csv", "csv-tall", "2.0", 13, 13),
    ("examples/v2.1/V2.0.0_Wide_CSV_Format_Example.csv", "csv-wide", "2.0", 10, 15),
    ("examples/v2.1/V2.0.0_JSON_Format_Example.json", "json", "2.0", 13, 13),
    ("examples/v2.2/V2.0.0_Tall_CSV_Format_Example.csv", "csv-tall", "2.0", 31, 31),
    ("examples/v2.2/V2.0.0_Wide_CSV_Format_Example.csv", "csv-wide", "2.0", 20, 33),
    ("examples/v2.2/V2.0.0_JSON_Format_Example.json", "json", "2.0", 31, 31),
    ("examples/v3.0/V3.0.0_Tall_CSV_Format_Example.csv", "csv-tall", "3.0", 45, 45),
    ("examples/v3.0/V3.0.0_Wide_CSV_Format_Example.csv", "csv-wide", "3.0", 26, 45),
    ("examples/v3.0/v3_json_format_example.json", "json", "3.0", 45, 45),
    ("examples/v3.0/V3.0.0_Tall_CSV_Format_Template.csv", "csv-tall", "3.0", 0, 0),
    ("examples/v3.0/V3.0.0_Wide_CSV_Format_Template.csv", "csv-wide", "3.0", 0, 0),
    ("examples/v3.0/withdrawn-2025-12-02/V3.0.0_Tall_CSV_Format_Example.csv", "csv-tall", "3.0", 31, 31),
    ("examples/v3.0/withdrawn-2025-12-02/V3.0.0_Wide_CSV_Format_Example.csv", "csv-wide", "3.0", 19, 31),
    ("examples/v3.0/withdrawn-2025-12-02/V3.0.0_JSON_Format_Example.json", "json", "3.0", 31, 31),
    ("real/v3/042104691_Marthas-Vineyard-Hospital_StandardCharges.csv", "csv-tall", "3.0", 10452, 10452),
    ("real/v3-excerpts/choa_sample.csv", "csv-tall", "3.0", 0, 0),
    ("real/v3-excerpts/emory_sample.csv", "csv-tall", "3.0", 21, 21),
    ("real/v3-excerpts/grady_sample.csv", "csv-wide", "3.0", 3, 64),
    ("real/v3-excerpts/piedmont_sample.csv", "csv-tall", "3.0", 18, 18),
    ("real/v3-excerpts/wellstar_sample.csv", "csv-tall", "3.0", 13, 13),
    ("real/v3-excerpts/northside_sample.json", "json", "3.0", 236, 236),
]


@pytest.mark.parametrize(("relative", "layout", "version", "read", "written"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_fixture_parses_with_exact_counts(parse, relative, layout, version, read, written):
    parsed = parse(fixture_path(relative))
    result = parsed.result
    assert (result.layout, result.cms_version) == (layout, version)
    assert result.rows_read == read
    assert result.rows_written == written == parsed.table.height
    assert result.rows_rejected == 0
    assert result.rows_read == result.source_rows_landed + result.rows_rejected
    assert result.cells_not_carried == {}
    # The file on disk has exactly the documented schema.
    assert pq.read_schema(parsed.out_path).remove_metadata() == PRICE_TABLE_SCHEMA.remove_metadata()


def test_fixture_list_covers_every_data_file():
    listed = {e[0] for e in EXAMPLES}
    on_disk = {
        str(p.relative_to(CMS_FIXTURES))
        for folder in ("examples", "real/v3", "real/v3-excerpts")
        for p in (CMS_FIXTURES / folder).rglob("*")
        if p.is_file() and p.suffix in (".csv", ".json") and "schema" not in p.name
    }
    if not on_disk:
        pytest.skip(f"shared CMS fixtures missing under {CMS_FIXTURES}")
    assert on_disk == listed


@pytest.mark.parametrize(
    "relative",
    [
        "examples/v2.0/V2.0.0_Hospital_price_transparency_schema.json",
        "examples/v2.1/V2.1.0_Hospital_price_transparency_schema.json",
        "examples/v2.2/V2.2.0_Hospital_price_transparency_schema.json",
        "examples/v2.2/V2.2.1_Hospital_price_transparency_schema.json",
        "examples/v3.0/V3.0.0_Hospital_price_transparency_schema.json",
    ],
)
def test_json_schemas_beside_the_examples_are_not_price_files(parse, relative):
    with pytest.raises(NotACmsTemplateError, match="not a CMS template file: expected a JSON object with a standard_charge_information array"):
        parse(fixture_path(relative))


def test_v3_tall_example_keeps_every_value_despite_spaces_around_pipes(parse):
    # Row 3 of this file reads "code | 1,code | 1 | type,...,standard_charge | gross,...": a peer
    # parser nulls every code and charge here. Row 4:
    # MRI of brain (no contrast),611,RC,70551,CPT,outpatient,,,1200,1080,Platform Health Insurance,PPO,,400,,,,,,,250,400,fee schedule,
    parsed = parse(fixture_path("examples/v3.0/V3.0.0_Tall_CSV_Format_Example.csv"))
    row = parsed.row(source_row="4")
    assert row["description"] == "MRI of brain (no contrast)"
    assert row["codes"] == [{"type": "RC", "code": "0611"}, {"type": "CPT", "code": "70551"}]
    assert (row["primary_code"], row["primary_code_type"]) == ("70551", "CPT")
    assert row["setting"] == "outpatient"
    assert (row["gross_charge"], row["discounted_cash"]) == (1200.0, 1080.0)
    assert (row["payer_name"], row["plan_name"], row["negotiated_dollar"]) == ("Platform Health Insurance", "PPO", 400.0)
    assert (row["deidentified_min"], row["deidentified_max"], row["methodology"]) == (250.0, 400.0, "fee schedule")
    assert parsed.table["gross_charge"].null_count() < parsed.table.height
    assert parsed.table["codes"].null_count() == 6  # the six modifier-only rows have no code
    # Cesarean section ... Platform Health Insurance,PPO,,,,"Allowed amount = $8,000 + MAX (0, ($3,000 x (covered days - 4))",11000,8000,17000,1 through 10,,,case rate,
    row = parsed.row(description="Cesarean section without sterilization with mcc", plan_name="PPO")
    assert row["negotiated_algorithm"] == "Allowed amount = $8,000 + MAX (0, ($3,000 x (covered days - 4))"
    assert (row["median_amount"], row["percentile_10th"], row["percentile_90th"]) == (11000.0, 8000.0, 17000.0)
    assert row["allowed_amount_count"] == "1 through 10"
    assert row["codes"] == [{"type": "MS-DRG", "code": "786"}]
    # Heart transplant ...,001,MS-DRG,...,Region Health Insurance,HMO,...,0,,,other, Methodology is explained ...
    row = parsed.row(description="Heart transplant or implant of heart assist system with mcc", plan_name="HMO")
    assert row["codes"] == [{"type": "MS-DRG", "code": "001"}]
    assert row["allowed_amount_count"] == "0"
    assert row["methodology"] == "other"
    assert row["additional_generic_notes"] == (
        " Methodology is explained in algorithm data element.  No services performed during 15-month lookback period."
    )
    # Bilateral procedure with co-surgeon,,,,,both,,,,,Platform Health Insurance,PPO,50|62,,93.75,...
    row = parsed.row(description="Bilateral procedure with co-surgeon", plan_name="PPO")
    assert row["modifiers"] == ["50", "62"]
    assert row["negotiated_percentage"] == 93.75
    assert row["codes"] is None and row["setting"] == "both"
    # Mexiletine hydrochloride 150 milligram capsule,0093-8739-01,NDC,,,both,1,UN,5,4,Platform...,3,...
    row = parsed.row(description="Mexiletine hydrochloride 150 milligram capsule")
    assert row["codes"] == [{"type": "NDC", "code": "00093873901"}]
    assert (row["drug_unit_of_measurement"], row["drug_type_of_measurement"]) == (1.0, "UN")
    # Fluconazole 2 milligrams/milliliter,J1450,HCPCS,25021-0184-82,NDC,both,100,ML,75,45,...
    row = parsed.rows(description="Fluconazole 2 milligrams/milliliter")[0]
    assert row["codes"] == [{"type": "HCPCS", "code": "J1450"}, {"type": "NDC", "code": "25021018482"}]
    assert (row["primary_code"], row["drug_unit_of_measurement"], row["drug_type_of_measurement"]) == ("J1450", 100.0, "ML")
    # General data: West Mercy Hospital,4/1/2026,3.0.0,...,50056 (license_number|CA),0000000001 | 0000000002 | 0000000003,TRUE,Leigh Attester
    meta = parsed.result.metadata
    assert meta.hospital_name == "West Mercy Hospital"
    assert meta.last_updated_on == dt.date(2026, 4, 1)
    assert (meta.license_number, meta.license_state) == ("50056", "CA")
    assert meta.location_names == ["West Mercy Hospital", "West Mercy Surgical Center"]
    assert meta.type_2_npi == ["0000000001", "0000000002", "0000000003"]
    assert meta.attestation_confirmed is True and meta.attester_name == "Leigh Attester"
    assert row["last_updated_on"] == dt.date(2026, 4, 1) and row["license_state"] == "CA"
    assert row["location_names"] == ["West Mercy Hospital", "West Mercy Surgical Center"]
    assert parsed.table["source_row"].min() == 4 and parsed.table["source_row"].max() == 48
    assert parsed.result.codes_by_type == {"RC": 15, "NDC": 12, "HCPCS": 10, "MS-DRG": 8, "CPT": 8}


def test_v3_wide_example_unpivots_each_non_empty_payer_block(parse):
    parsed = parse(fixture_path("examples/v3.0/V3.0.0_Wide_CSV_Format_Example.csv"))  # UTF-8 BOM
    assert parsed.result.encoding == "utf-8-sig"
    # "Behavioral health; ..., days 1-3",H0017,HCPCS,,,,inpatient,,,2500,2250,<Platform block empty>,2000,,,,,,,per diem,,2000,2000,
    rows = parsed.rows(description="Behavioral health; residential (hospital residential treatment program), without room and board, per diem, days 1-3")
    assert len(rows) == 1
    assert (rows[0]["payer_name"], rows[0]["plan_name"], rows[0]["negotiated_dollar"], rows[0]["methodology"]) == ("Region Health Insurance", "HMO", 2000.0, "per diem")
    # Inguinal hernia repair: Region block ends "fee schedule,This service paid at 140% of the OPPS APC rate."
    row = parsed.row(description="Inguinal hernia repair", plan_name="HMO")
    assert row["additional_payer_notes"] == "This service paid at 140% of the OPPS APC rate."
    # ER level 3: Platform block ",80,,12000.12,5123.74,16784.22,299,percent of total billed charges,"
    row = parsed.row(description="ER level 3", plan_name="PPO")
    assert (row["negotiated_percentage"], row["median_amount"], row["percentile_10th"], row["percentile_90th"]) == (80.0, 12000.12, 5123.74, 16784.22)
    assert (row["allowed_amount_count"], row["methodology"]) == ("299", "percent of total billed charges")
    assert row["source_row"] == 13


def test_tall_wide_and_json_v3_examples_agree(parse):
    """The three v3 examples publish the same prices: the tables agree on the payer rates."""
    key = ["description", "payer_name", "plan_name", "negotiated_dollar", "negotiated_percentage", "median_amount", "allowed_amount_count"]
    tall = parse(fixture_path("examples/v3.0/V3.0.0_Tall_CSV_Format_Example.csv")).table
    wide = parse(fixture_path("examples/v3.0/V3.0.0_Wide_CSV_Format_Example.csv")).table
    json_ = parse(fixture_path("examples/v3.0/v3_json_format_example.json")).table
    rated = lambda t: sorted(map(str, t.filter(t["negotiated_dollar"].is_not_null()).select(key).cast({k: str for k in key}).rows()))  # noqa: E731
    assert rated(tall) == rated(wide) == rated(json_)


def test_v3_json_example_items_and_modifiers(parse):
    parsed = parse(fixture_path("examples/v3.0/v3_json_format_example.json"))
    first = parsed.row(source_json_path="/standard_charge_information/0/standard_charges/0/payers_information/0")
    assert first["description"] == "MRI of brain (no contrast)"
    assert (first["gross_charge"], first["discounted_cash"], first["negotiated_dollar"]) == (1200.0, 1080.0, 400.0)
    assert first["source_row"] is None
    # "modifier_information" follows the items in this file: {"description": "Bilateral procedure",
    # "code": "50", "setting": "both", "modifier_payer_information": [{"payer_name": "Platform Health
    # Insurance", "plan_name": "PPO", "description": "150% payment adjustment ..."}, ...]}
    row = parsed.row(source_json_path="/modifier_information/0/modifier_payer_information/0")
    assert (row["description"], row["modifiers"], row["setting"]) == ("Bilateral procedure", ["50"], "both")
    assert row["additional_payer_notes"] == "150% payment adjustment for the item or service to which the modifier is appended"
    meta = parsed.result.metadata
    assert meta.general_contract_provisions[0]["payer_name"] == "Platform Health Insurance"
    assert (meta.license_number, meta.license_state, meta.attester_name) == ("50056", "CA", "Leigh Attester")


def test_v2_wide_example_with_cp1252_bytes(parse):
    # Bytes 0x97 at offsets 3882 and 4101: "Treatment or observation room \x97 observation".
    parsed = parse(fixture_path("examples/v2.0/V2.0.0_Wide_CSV_Format_Example.csv"))
    assert parsed.result.encoding == "cp1252"
    assert parsed.result.transcoded_bytes == 2
    assert parsed.rows(description="Treatment or observation room \u2014 observation room")
    # Major hip ... Platform_Health_Insurance|PPO: 20000,,MS-DRG,22243.34,case rate
    row = parsed.rows(description="Major hip and knee joint replacement or reattachment of lower extremity without mcc", plan_name="PPO")[0]
    assert (row["payer_name"], row["payer_name_normalized"]) == ("Platform_Health_Insurance", "PLATFORM HEALTH INSURANCE")
    assert (row["negotiated_dollar"], row["estimated_amount"], row["negotiated_algorithm"]) == (20000.0, 22243.34, "MS-DRG")


def test_v2_history_examples_with_bom_and_crlf(parse):
    parsed = parse(fixture_path("examples/v2.0/history-2024-01-31/V2.0.0_Tall_CSV_Format_Example.csv"))
    assert parsed.result.encoding == "utf-8-sig"
    assert parsed.result.metadata.hospital_name == "West Mercy Hospital"
    assert all("\r" not in (d or "") for d in parsed.table["description"].to_list())
    assert all("\r" not in (d or "") for d in parsed.table["additional_generic_notes"].to_list())


def test_marthas_vineyard_complete_real_file(parse):
    parsed = parse(fixture_path("real/v3/042104691_Marthas-Vineyard-Hospital_StandardCharges.csv"))
    result = parsed.result
    # 28 bytes 0x92 and 9 bytes 0x96 (cp1252 quote and dash) in an otherwise ASCII file.
    assert (result.encoding, result.transcoded_bytes) == ("cp1252", 37)
    assert result.codes_by_type == {"CDM": 10364, "RC": 10364, "CPT": 7710, "HCPCS": 2654, "DRG": 88}
    assert len(result.payers) == 19 and result.payer_plans == 29
    counts = dict(parsed.table["methodology"].cast(str).value_counts().iter_rows())
    assert counts == {"percent of total billed charges": 9826, "other": 538, "case rate": 77, "per diem": 7, "fee schedule": 4}
    assert (parsed.table["allowed_amount_count"].cast(str) == "1 through 10").sum() == 7417
    # Row 4: "1 25 Dihydroxy Inc Fraction","PX-30000412","CDM","82652","CPT","0301","RC",...,"200.00","150.00",
    # "MEDICARE [2001]","HB MVH MEDICARE","100.00","50","","67.90","67.90","69.84","12","39.7","140.96","percent of total billed charges",""
    row = parsed.row(source_row="4")
    assert row["codes"] == [{"type": "CDM", "code": "PX-30000412"}, {"type": "CPT", "code": "82652"}, {"type": "RC", "code": "0301"}]
    assert (row["gross_charge"], row["discounted_cash"], row["negotiated_dollar"], row["negotiated_percentage"]) == (200.0, 150.0, 100.0, 50.0)
    assert (row["median_amount"], row["percentile_10th"], row["percentile_90th"], row["allowed_amount_count"]) == (67.9, 67.9, 69.84, "12")
    assert (row["payer_name"], row["payer_name_normalized"]) == ("MEDICARE [2001]", "Medicare")
    # Row 1635 holds the byte 0x92: "Chem IV Infus Tq Ea Add\x92L Seq Diff Drug Up to 1 Hr - 96417".
    assert parsed.rows(source_row="1635")[0]["description"] == "Chem IV Infus Tq Ea Add\u2019L Seq Diff Drug Up to 1 Hr - 96417"
    assert result.metadata.last_updated_on == dt.date(2026, 3, 27)
    assert (result.metadata.license_number, result.metadata.license_state) == ("2042", "MA")


def test_excerpt_without_general_data_rows(parse):
    parsed = parse(fixture_path("real/v3-excerpts/piedmont_sample.csv"))
    assert any("rows 1-2 (general data) are missing" in w for w in parsed.result.warnings)
    assert parsed.table["source_row"].min() == 2  # the item header is row 1 here
    # "HC Colonoscopy Bx",PX-750000089,CDM,45380,CPT,0750,RC,,,both,,,4638.60,1391.58,"BLUE CROSS [10001]","Blue Cross HMO",,4395.11,,"Case rate ($4,395.11). ...",4395.11,4395.11,4395.11,"1 through 10",555.7,4638.6,"fee schedule",
    row = parsed.row(source_row="3")
    assert row["negotiated_algorithm"].startswith("Case rate ($4,395.11). The procedures on each service date")
    assert (row["negotiated_dollar"], row["median_amount"], row["allowed_amount_count"]) == (4395.11, 4395.11, "1 through 10")
    assert row["payer_name_normalized"] == "Blue Cross Blue Shield"
    row = parsed.row(source_row="2")
    assert (row["allowed_amount_count"], row["negotiated_percentage"]) == ("0", 80.0)
    assert row["additional_generic_notes"] == "Zero final payments for the item or service in the 15 months prior to posting the file."


def test_grady_wide_excerpt_with_33_payer_plans(parse):
    parsed = parse(fixture_path("real/v3-excerpts/grady_sample.csv"))
    assert parsed.result.payer_plans == 33
    # First data row: Colonoscopy and biopsy,45380,CPT,...,facility,outpatient,...,231.71,5612.5,,2891 (Aetna|Commercial), ...
    rows = parsed.rows(source_row="2")
    by_plan = {(r["payer_name"], r["plan_name"]): r for r in rows}
    assert by_plan[("Aetna", "Commercial")]["negotiated_dollar"] == 2891.0
    assert by_plan[("Aetna", "Commercial")]["methodology"] == "case rate"
    assert by_plan[("Anthem BCBS", "PPO")]["negotiated_dollar"] == 5612.5
    assert by_plan[("Peach State", "Medicaid")]["negotiated_dollar"] == 231.71
    assert all(r["billing_class"] == "facility" and r["deidentified_min"] == 231.71 for r in rows)


def test_northside_json_excerpt(parse):
    parsed = parse(fixture_path("real/v3-excerpts/northside_sample.json"))
    row = parsed.row(source_json_path="/standard_charge_information/0/standard_charges/0/payers_information/0")
    # {"code": "0360", "type": "RC"}, {"code": "05312", "type": "APC"}, {"code": "45380", "type": "CPT"};
    # minimum 4024.75, maximum 5127.41; "Institutional 120 Percent of Medicare" 4922.32 fee schedule
    assert row["codes"] == [{"type": "RC", "code": "0360"}, {"type": "APC", "code": "05312"}, {"type": "CPT", "code": "45380"}]
    assert (row["primary_code"], row["deidentified_min"], row["deidentified_max"]) == ("45380", 4024.75, 5127.41)
    assert (row["payer_name"], row["negotiated_dollar"], row["methodology"]) == ("Institutional 120 Percent of Medicare", 4922.32, "fee schedule")
    # The third item has an inpatient and an outpatient standard charge with 58 payers each.
    third = parsed.table.filter(parsed.table["source_json_path"].str.starts_with("/standard_charge_information/2/"))
    assert dict(third["setting"].cast(str).value_counts().iter_rows()) == {"inpatient": 58, "outpatient": 58}
    assert parsed.result.metadata.hospital_name == "Northside Hospital, Inc."
