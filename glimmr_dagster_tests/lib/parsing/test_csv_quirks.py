"""Each quirk real CMS CSV files have, in a small file the test writes."""

from __future__ import annotations

import pytest

from glimmr_dagster.lib.parsing import NotACmsTemplateError, ParseError

V3_ROW1 = "hospital_name,last_updated_on,version,location_name,hospital_address,license_number|MA,type_2_npi,attester_name"
V3_ROW2 = "Test Hospital,2026-03-27,3.0.0,Test Hospital,1 Main St,2042,1234567890,Pat Doe"
TALL_HEADER = (
    "description,code|1,code|1|type,code|2,code|2|type,setting,standard_charge|gross,"
    "standard_charge|discounted_cash,payer_name,plan_name,standard_charge|negotiated_dollar,"
    "standard_charge|negotiated_percentage,median_amount,count,standard_charge|min,standard_charge|max,"
    "standard_charge|methodology,additional_generic_notes"
)


def tall(*rows: str, header: str = TALL_HEADER, newline: str = "\n") -> str:
    return newline.join([V3_ROW1, V3_ROW2, header, *rows]) + newline


MRI = "MRI brain,70551,CPT,611,RC,outpatient,1200,1080,Aetna,PPO,400,,,,250,400,fee schedule,"


def test_utf8_bom(parse, write):
    parsed = parse(write("bom.csv", b"\xef\xbb\xbf" + tall(MRI).encode()))
    assert parsed.result.encoding == "utf-8-sig"
    assert parsed.result.metadata.hospital_name == "Test Hospital"
    assert parsed.table["description"].to_list() == ["MRI brain"]


def test_cp1252_file_is_transcoded_not_replaced(parse, write):
    content = tall("Caf\xe9 visit \x96 level 2,99213,CPT,,,outpatient,100,80,Aetna,PPO,90,,,,90,90,fee schedule,Don\x92t bill").encode("latin-1")
    parsed = parse(write("cp1252.csv", content))
    assert parsed.result.encoding == "cp1252"
    assert parsed.result.transcoded_bytes == 3
    row = parsed.table.row(0, named=True)
    assert row["description"] == "Café visit – level 2"
    assert row["additional_generic_notes"] == "Don’t bill"


def test_utf8_file_with_stray_cp1252_byte(parse, write):
    content = tall("Caf\u00e9 visit,99213,CPT,,,outpatient,100,80,Aetna,PPO,90,,,,90,90,fee schedule,").encode() + (
        b"Add\x92L dose,J1450,HCPCS,,,outpatient,5,4,Aetna,PPO,3,,,,3,3,fee schedule,\n"
    )
    parsed = parse(write("mixed.csv", content))
    assert (parsed.result.encoding, parsed.result.transcoded_bytes) == ("utf-8+cp1252", 1)
    assert parsed.table["description"].to_list() == ["Café visit", "Add’L dose"]


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_endings(parse, write, newline):
    parsed = parse(write("endings.csv", tall(MRI, MRI.replace("Aetna", "Cigna"), newline=newline)))
    assert parsed.result.rows_read == 2
    assert parsed.table["payer_name"].cast(str).to_list() == ["Aetna", "Cigna"]
    assert parsed.table["additional_generic_notes"].null_count() == 2  # no stray "\r" kept


def test_mixed_line_endings(parse, write):
    text = V3_ROW1 + "\r\n" + V3_ROW2 + "\n" + TALL_HEADER + "\r\n" + MRI + "\n" + MRI.replace("Aetna", "Cigna") + "\r\n"
    parsed = parse(write("mixed-endings.csv", text))
    assert parsed.table["source_row"].to_list() == [4, 5]
    assert parsed.table["methodology"].cast(str).to_list() == ["fee schedule", "fee schedule"]


def test_quoted_multiline_cells(parse, write):
    row = '"Knee MRI,\nleft side",73721,CPT,,,outpatient,900,800,Aetna,PPO,700,,,,700,700,other,"line one\nline two"'
    parsed = parse(write("multiline.csv", tall(row, MRI)))
    first = parsed.table.row(0, named=True)
    assert first["description"] == "Knee MRI,\nleft side"
    assert first["additional_generic_notes"] == "line one\nline two"
    assert parsed.table["source_row"].to_list() == [4, 5]  # rows are CSV records, not lines


def test_short_rows_read_missing_cells_as_empty(parse, write):
    parsed = parse(write("short.csv", tall("X-ray chest,71045,CPT,,,outpatient,150", MRI)))
    first = parsed.table.row(0, named=True)
    assert (first["description"], first["gross_charge"], first["payer_name"]) == ("X-ray chest", 150.0, None)
    assert parsed.result.rows_written == 2


def test_rows_longer_than_the_header_keep_their_extra_cells_counted(parse, write):
    long_row = MRI + ",extra one,extra two"
    very_long = MRI.replace("Aetna", "Cigna") + ",x" * 100  # beyond the first guess of spare columns
    parsed = parse(write("long.csv", tall(long_row, very_long)))
    assert parsed.result.rows_written == 2
    not_carried = parsed.result.cells_not_carried
    assert sum(not_carried.values()) == 102
    assert not_carried["(blank header, column T)"] == 2


def test_blank_header_cells(parse, write):
    header = TALL_HEADER + ",,internal_id"
    parsed = parse(write("blank-header.csv", tall(MRI + ",disclaimer text,A-17", MRI.replace("Aetna", "Cigna") + ",,A-18", header=header)))
    assert parsed.result.cells_not_carried == {"(blank header, column S)": 1, "internal_id": 2}
    assert parsed.result.rows_written == 2


def test_spaces_around_pipes_and_upper_case_headers(parse, write):
    header = (
        "Description,CODE | 1,Code | 1 | Type,Setting,Standard_Charge | Gross,standard charge|discounted_cash,"
        "PAYER_NAME,Plan_Name,STANDARD_CHARGE|NEGOTIATED_DOLLAR,standard_charge | min,standard_charge | max,"
        "Standard_Charge | Methodology"
    )
    parsed = parse(write("headers.csv", tall("MRI brain,70551,CPT,outpatient,1200,1080,Aetna,PPO,400,250,400,Fee Schedule", header=header)))
    row = parsed.table.row(0, named=True)
    assert row["codes"] == [{"type": "CPT", "code": "70551"}]
    assert (row["gross_charge"], row["discounted_cash"], row["negotiated_dollar"]) == (1200.0, 1080.0, 400.0)
    assert (row["deidentified_min"], row["deidentified_max"], row["methodology"]) == (250.0, 400.0, "fee schedule")
    assert parsed.result.cells_not_carried == {}


WIDE_HEADER = (
    "description,code|1,code|1|type,setting,standard_charge|gross,"
    "standard_charge|Aetna|PPO|negotiated_dollar,standard_charge|Aetna|PPO|methodology,median_amount|Aetna|PPO,count|Aetna|PPO,"
    "standard_charge|Cigna|HMO|negotiated_dollar,standard_charge|Cigna|HMO|methodology,additional_payer_notes|Cigna|HMO,"
    "standard_charge|Danish_Health_Authority_Inpatient_Rate|negotiated_dollar,"
    "standard_charge|Danish_Health_Authority_Inpatient_Rate|methodology,"
    '"standard_charge|BlueCrossBlueShield|HMO_Inpatient_SCT_DRG14,16,17|negotiated_dollar",'
    "standard_charge|min,standard_charge|max"
)


def test_wide_unpivots_blocks_skips_empty_ones_and_reads_three_part_headers(parse, write):
    rows = [
        # Aetna, Cigna and the plan-less Danish block filled; the BCBS block empty.
        "Knee replacement,470,MS-DRG,inpatient,50000,30000,case rate,28000,14,31000,case rate,Carve-out applies,25000,case rate,,20000,40000",
        # Only the BCBS block (a plan with commas) filled.
        "Hip replacement,469,MS-DRG,inpatient,60000,,,,,,,,,,45000,45000,45000",
        # No payer block at all: still one row for the item.
        "Room and board,0120,RC,inpatient,3000,,,,,,,,,,,,",
    ]
    parsed = parse(write("wide.csv", tall(*rows, header=WIDE_HEADER)))
    result = parsed.result
    assert (result.layout, result.rows_read, result.rows_written) == ("csv-wide", 3, 5)
    assert result.payer_plans == 4
    knee = {(r["payer_name"], r["plan_name"]): r for r in parsed.rows(source_row="4")}
    assert set(knee) == {("Aetna", "PPO"), ("Cigna", "HMO"), ("Danish_Health_Authority_Inpatient_Rate", None)}
    assert (knee[("Aetna", "PPO")]["negotiated_dollar"], knee[("Aetna", "PPO")]["median_amount"], knee[("Aetna", "PPO")]["allowed_amount_count"]) == (30000.0, 28000.0, "14")
    assert knee[("Cigna", "HMO")]["additional_payer_notes"] == "Carve-out applies"
    assert knee[("Danish_Health_Authority_Inpatient_Rate", None)]["negotiated_dollar"] == 25000.0
    assert all(r["gross_charge"] == 50000.0 and r["deidentified_max"] == 40000.0 for r in knee.values())
    hip = parsed.row(source_row="5")
    assert (hip["payer_name"], hip["plan_name"], hip["negotiated_dollar"]) == ("BlueCrossBlueShield", "HMO_Inpatient_SCT_DRG14,16,17", 45000.0)
    room = parsed.row(source_row="6")
    assert (room["payer_name"], room["negotiated_dollar"], room["gross_charge"]) == (None, None, 3000.0)
    assert room["codes"] == [{"type": "RC", "code": "0120"}]


def test_wide_payer_plans_group_case_insensitively(parse, write):
    header = "description,code|1,code|1|type,setting,standard_charge|Aetna|PPO|negotiated_dollar,standard_charge|AETNA|ppo|methodology"
    parsed = parse(write("case.csv", tall("MRI,70551,CPT,outpatient,400,fee schedule", header=header)))
    assert parsed.result.rows_written == 1
    row = parsed.table.row(0, named=True)
    assert (row["payer_name"], row["negotiated_dollar"], row["methodology"]) == ("Aetna", 400.0, "fee schedule")


def test_exact_duplicate_rows_are_counted_and_dropped(parse, write):
    other = MRI.replace("Aetna", "Cigna")
    parsed = parse(write("dups.csv", tall(MRI, other, MRI, "", MRI, other.replace("400", "401"))))
    result = parsed.result
    assert result.rows_read == 6
    assert result.duplicates_dropped == 2
    assert result.rejects_by_reason == {"duplicate_row": 2, "blank_row": 1}
    assert result.rejects.examples["duplicate_row"] == ["row 6 (repeats an earlier row exactly)", "row 8 (repeats an earlier row exactly)"]
    assert result.rejects.examples["blank_row"] == ["row 7"]
    assert parsed.table["source_row"].to_list() == [4, 5, 9]
    assert result.rows_read == result.rows_written + result.rows_rejected


def test_placeholders_are_kept_and_flagged(parse, write):
    row = "Pacemaker,C1785,HCPCS,,,outpatient,40000,36000,Aetna,PPO,,80,999999999,1 through 10,,,percent of total billed charges,"
    parsed = parse(write("nines.csv", tall(row, MRI)))
    first = parsed.table.row(0, named=True)
    assert first["median_amount"] == 999999999.0
    assert first["flags"] == ["placeholder:median_amount"]
    assert parsed.table.row(1, named=True)["flags"] is None
    assert parsed.result.placeholders == {"median_amount": 1}
    assert parsed.result.flags == {"placeholder:median_amount": 1}


def test_money_formats_missing_markers_and_text_in_number_columns(parse, write):
    rows = [
        '"Knee MRI",73721,CPT,,,outpatient,"$1,234.50",(12.00),Aetna,PPO,N/A,,,,250,400,fee schedule,',
        "Lab panel,80048,CPT,,,outpatient, 300 ,-,Aetna,PPO,See contract,,,,150,150,fee schedule,",
    ]
    parsed = parse(write("money.csv", tall(*rows)))
    first, second = parsed.table.rows(named=True)
    assert (first["gross_charge"], first["discounted_cash"], first["negotiated_dollar"]) == (1234.5, -12.0, None)
    assert (second["gross_charge"], second["discounted_cash"], second["negotiated_dollar"]) == (300.0, None, None)
    assert second["flags"] == ["not_a_number:negotiated_dollar"]
    assert parsed.result.missing_markers == {"standard_charge|negotiated_dollar": 1, "standard_charge|discounted_cash": 1}
    # Text where a number belongs cannot be carried: it is counted under its source column.
    assert parsed.result.cells_not_carried == {"standard_charge|negotiated_dollar": 1}


def test_codes_and_code_types_are_normalized(parse, write):
    rows = [
        "Heart transplant,1,MS-DRG,,,inpatient,,,Aetna,PPO,200000,,,,200000,200000,case rate,",
        "ER visit,99283,cpt4,450,REV,outpatient,4000,3600,Aetna,PPO,1000,,,,1000,1000,fee schedule,",
        "Aspirin,0093-8739-01,NDC,j1450,HCPCS II,both,2,1.5,Aetna,PPO,0.75,,,,0.75,0.95,fee schedule,",
    ]
    parsed = parse(write("codes.csv", tall(*rows)))
    codes = parsed.table["codes"].to_list()
    assert codes[0] == [{"type": "MS-DRG", "code": "001"}]
    assert codes[1] == [{"type": "CPT", "code": "99283"}, {"type": "RC", "code": "0450"}]
    assert codes[2] == [{"type": "NDC", "code": "00093873901"}, {"type": "HCPCS", "code": "J1450"}]
    assert parsed.table["primary_code"].to_list() == ["001", "99283", "J1450"]
    assert parsed.result.codes_by_type == {"MS-DRG": 1, "CPT": 1, "RC": 1, "NDC": 1, "HCPCS": 1}
    assert parsed.table["flags"].null_count() == 3


def test_unknown_enumeration_values_are_kept_and_flagged(parse, write):
    rows = [
        "Visit,99213,CPT,12,Local Lab,Emergency,100,80,Aetna,PPO,90,,,,90,90,capitation,",
        "Visit 2,99214,CPT,,,Outpatient,100,80,Aetna,PPO,,50,,5,90,90,Percent of Total Billed Charges,",
        "Visit 3,9921,CPT,,,IP,100,80,Aetna,PPO,90,,,,90,90,Per Diem,",
    ]
    parsed = parse(write("enums.csv", tall(*rows)))
    first, second, third = parsed.table.rows(named=True)
    assert (first["setting"], first["methodology"]) == ("Emergency", "capitation")
    assert first["codes"] == [{"type": "CPT", "code": "99213"}, {"type": "LOCAL LAB", "code": "12"}]
    assert sorted(first["flags"]) == ["unknown_code_type", "unknown_methodology", "unknown_setting"]
    assert (second["setting"], second["methodology"], second["allowed_amount_count"]) == ("outpatient", "percent of total billed charges", "5")
    assert second["flags"] == ["invalid_count"]
    assert (third["setting"], third["methodology"], third["codes"]) == ("inpatient", "per diem", [{"type": "CPT", "code": "09921"}])
    assert parsed.result.unknown_values == {
        "setting": {"Emergency": 1},
        "standard_charge|methodology": {"capitation": 1},
        "code|2|type": {"Local Lab": 1},
        "count": {"5": 1},
    }


def test_hospital_columns_and_rows_with_only_such_values(parse, write):
    header = TALL_HEADER + ",internal_cost_center"
    parsed = parse(write("extra.csv", tall(MRI + ",CC-1", ",,,,,,,,,,,,,,,,,,CC-2", header=header)))
    result = parsed.result
    assert result.rows_read == 2 and result.rows_written == 1
    assert result.rejects_by_reason == {"no_cms_columns": 1}
    assert result.cells_not_carried == {"internal_cost_center": 2}


def test_header_only_file_without_data_rows(parse, write):
    parsed = parse(write("empty.csv", tall()))
    assert (parsed.result.rows_read, parsed.result.rows_written, parsed.table.height) == (0, 0, 0)


def test_ambiguous_tall_and_wide_columns_read_as_tall(parse, write):
    header = TALL_HEADER + ",standard_charge|Aetna|PPO|negotiated_dollar"
    parsed = parse(write("ambiguous.csv", tall(MRI + ",500", header=header)))
    assert parsed.result.layout == "csv-tall"
    assert parsed.result.cells_not_carried == {"standard_charge|Aetna|PPO|negotiated_dollar (payer column in a tall file)": 1}
    assert any("ambiguous" in w for w in parsed.result.warnings)


def test_broken_quote_names_the_file_row_and_column(parse, write):
    path = write("broken.csv", tall(MRI, '"Unclosed description,70551,CPT,,,outpatient,1,1,Aetna,PPO,1,,,,1,1,fee schedule,'))
    with pytest.raises(ParseError) as caught:
        parse(path)
    message = str(caught.value)
    assert str(path) in message
    assert "column A ('description'), row 4 or later" in message
    assert "a quoted cell is never closed" in message
    assert not list((path.parent.parent / "lake").glob("*")), "nothing is left at the destination"


def test_row_3_that_is_not_an_item_header(parse, write):
    path = write("not-row3.csv", V3_ROW1 + "\n" + V3_ROW2 + "\nitem,price\nMRI,5\n")
    with pytest.raises(NotACmsTemplateError, match=r"at row 3: not a CMS template file: .* found A3='item', B3='price'"):
        parse(path)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("legacy.csv", "Chargecode,Description,CPT/HCPCS,Fee\n00000F,TEST,,N/A\n", "not a CMS template file: expected CMS general-data headers in row 1"),
        ("page.csv", "<!DOCTYPE html><html><body>Not found</body></html>", "not a CMS template file: an HTML page"),
        ("doc.csv", b"%PDF-1.7\n...", "not a CMS template file: a PDF document"),
        ("file.csv.gz", b"\x1f\x8b\x08\x00rest", "not a CMS template file: a gzip-compressed file"),
        ("empty.csv", b"", "not a CMS template file: the file is empty"),
        ("list.json", '[{"a": 1}]', "not a CMS template file: the JSON root is an array"),
    ],
)
def test_files_that_are_not_cms_templates(parse, write, name, content, expected):
    path = write(name, content)
    with pytest.raises(NotACmsTemplateError, match=expected) as caught:
        parse(path)
    assert str(path) in str(caught.value)


def test_zip_archives_are_named(parse, write, tmp_path):
    import zipfile

    path = tmp_path / "src" / "bundle.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("123_hospital_standardcharges.csv", tall(MRI))
    with pytest.raises(NotACmsTemplateError, match=r"a ZIP archive \(123_hospital_standardcharges.csv\)"):
        parse(path)


def test_content_decides_over_the_kind_hint(parse, write):
    parsed = parse(write("prices.json", tall(MRI)), kind_hint="json")
    assert parsed.result.format == "csv"
    assert parsed.result.warnings == ["the downloader's kind hint was 'json'; the content is csv"]


def test_a_column_of_junk_stays_fast_and_bounded(parse, write):
    # Every row a different "code type" and "setting" (columns shifted by a bad export): each
    # distinct value is normalized once, and the result keeps a bounded list of unknown values.
    rows = [f"Item {i},{i},TYPE-{i},,,place-{i},10,9,Aetna,PPO,8,,,,8,8,fee schedule," for i in range(3000)]
    parsed = parse(write("junk.csv", tall(*rows)))
    assert parsed.result.rows_written == 3000
    assert parsed.result.flags == {"unknown_code_type": 3000, "unknown_setting": 3000}
    kept = parsed.result.unknown_values["setting"]
    assert len(kept) == 1001 and kept["(other values)"] == 2000 and sum(kept.values()) == 3000
    assert parsed.result.seconds < 30
