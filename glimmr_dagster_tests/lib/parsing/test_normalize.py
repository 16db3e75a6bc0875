"""The scalar normalization rules, tested directly (the parsers apply exactly these)."""

from __future__ import annotations

import datetime as dt

import pytest

from glimmr_dagster.lib import normalize as nz


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$1,234.50", 1234.5),
        ("1234.5", 1234.5),
        (" 1 234.50 ", 1234.5),
        ("(1,234.50)", -1234.5),
        ("$ 12", 12.0),
        ("-$12.00", -12.0),
        ("12.00-", -12.0),
        ("USD 40", 40.0),
        ("1.5e3", 1500.0),
        (".5", 0.5),
        ("7.", 7.0),
        (250, 250.0),
        (0.75, 0.75),
    ],
)
def test_parse_number_reads_money_formats(text, value):
    parsed = nz.parse_number(text)
    assert parsed.status is nz.NumberStatus.OK
    assert parsed.value == value


@pytest.mark.parametrize("text", ["N/A", "na", "NA", "-", " -   ", "--", "None", "null", "Not Applicable", "nan", "", "  ", None])
def test_parse_number_treats_markers_as_missing(text):
    parsed = nz.parse_number(text)
    assert parsed == nz.ParsedNumber(None, nz.NumberStatus.MISSING)


@pytest.mark.parametrize("text", ["See notes", "varies", "1,23", "12 34x", "inf", "$1,2345", "1-2", True])
def test_parse_number_rejects_text(text):
    assert nz.parse_number(text).status is nz.NumberStatus.UNPARSABLE


def test_percentages_may_carry_a_percent_sign_and_stay_in_percent():
    assert nz.parse_number("70.5%", allow_percent=True).value == 70.5
    assert nz.parse_number("70.5%").status is nz.NumberStatus.UNPARSABLE


@pytest.mark.parametrize("value", ["999999999", "9999999", "99999999.99", "$999,999,999", 999999999, 999999999.0, "9999999999.00"])
def test_nine_nines_are_placeholders(value):
    assert nz.is_placeholder_amount(value)


@pytest.mark.parametrize("value", ["999999", "19999999", "1000000000", 123.45, None, "999999998"])
def test_ordinary_amounts_are_not_placeholders(value):
    assert not nz.is_placeholder_amount(value)


@pytest.mark.parametrize(
    ("published", "expected", "known"),
    [
        ("CPT", "CPT", True),
        ("cpt", "CPT", True),
        ("CPT4", "CPT", True),
        ("CPT-4", "CPT", True),
        ("CPT®", "CPT", True),
        ("HCPCS II", "HCPCS", True),
        ("HCPCS Level II", "HCPCS", True),
        ("REV", "RC", True),
        ("Revenue Code", "RC", True),
        ("ms-drg", "MS-DRG", True),
        ("MS DRG", "MS-DRG", True),
        ("APR-DRG", "APR-DRG", True),
        ("MS-LTC-DRG", "MS-LTC-DRG", True),
        ("ICD-10-PCS", "ICD", True),
        ("Charge Code", "CDM", True),
        ("NDC11", "NDC", True),
        ("Local Lab", "LOCAL LAB", False),
        ("MS-DRG A", "MS-DRG A", False),
        (" ", None, True),
    ],
)
def test_code_type_names(published, expected, known):
    assert nz.normalize_code_type(published) == (expected, known)


@pytest.mark.parametrize(
    ("code", "code_type", "expected"),
    [
        ("70551", "CPT", ("70551", True)),
        (" 0001u ", "CPT", ("0001U", True)),
        ("100", "CPT", ("00100", True)),
        ("70551.0", "CPT", ("70551", True)),
        ("j1450", "HCPCS", ("J1450", True)),
        ("99213-26", "CPT", ("99213-26", False)),
        ("1", "MS-DRG", ("001", True)),
        ("47", "DRG", ("047", True)),
        ("DRG 470", "MS-DRG", ("470", True)),
        ("470.0", "APR-DRG", ("470", True)),
        ("139-2", "APR-DRG", ("139-2", False)),
        ("450", "RC", ("0450", True)),
        ("0360", "RC", ("0360", True)),
        ("301.0", "RC", ("0301", True)),
        ("45", "RC", ("0045", True)),
        ("12345", "RC", ("12345", False)),
        ("0093-8739-01", "NDC", ("00093873901", True)),  # 4-4-2
        ("10135-0729-62", "NDC", ("10135072962", True)),  # 5-4-2
        ("12345-678-90", "NDC", ("12345067890", True)),  # 5-3-2
        ("12345-6789-1", "NDC", ("12345678901", True)),  # 5-4-1
        ("00093873901", "NDC", ("00093873901", True)),
        ("0093873901", "NDC", ("0093873901", False)),  # 10 digits without hyphens: ambiguous
        ("s72.001a", "ICD", ("S72.001A", True)),
        (" PX-30000412 ", "CDM", ("PX-30000412", True)),
        ("05312", "APC", ("05312", True)),
        ("abc", None, ("abc", True)),
        ("", "CPT", (None, True)),
    ],
)
def test_codes_by_type(code, code_type, expected):
    assert nz.normalize_code(code, code_type) == expected


def test_primary_code_priority_prefers_procedure_codes():
    ranks = {t: nz.primary_code_rank(t) for t in ("CPT", "HCPCS", "MS-DRG", "NDC", "RC", "CDM", "LOCAL", "WHATEVER")}
    assert ranks["CPT"] < ranks["HCPCS"] < ranks["MS-DRG"] < ranks["NDC"] < ranks["RC"] < ranks["CDM"] < ranks["LOCAL"]
    assert ranks["WHATEVER"] > ranks["LOCAL"]


@pytest.mark.parametrize(
    ("function", "published", "expected"),
    [
        (nz.normalize_setting, "Outpatient", ("outpatient", True)),
        (nz.normalize_setting, " IP ", ("inpatient", True)),
        (nz.normalize_setting, "IP/OP", ("both", True)),
        (nz.normalize_setting, "BOTH", ("both", True)),
        (nz.normalize_setting, "Emergency", ("Emergency", False)),
        (nz.normalize_methodology, "Case Rate", ("case rate", True)),
        (nz.normalize_methodology, "fee_schedule", ("fee schedule", True)),
        (nz.normalize_methodology, "% of charges", ("percent of total billed charges", True)),
        (nz.normalize_methodology, "Percent of Total Billed Charges", ("percent of total billed charges", True)),
        (nz.normalize_methodology, "per-diem", ("per diem", True)),
        (nz.normalize_methodology, "capitation", ("capitation", False)),
        (nz.normalize_billing_class, "Professional", ("professional", True)),
        (nz.normalize_billing_class, "Institutional", ("facility", True)),
        (nz.normalize_billing_class, "Anesthesia", ("Anesthesia", False)),
        (nz.normalize_drug_unit_type, "ml", ("ML", True)),
        (nz.normalize_drug_unit_type, "each", ("EA", True)),
        (nz.normalize_drug_unit_type, "UN", ("UN", True)),
        (nz.normalize_drug_unit_type, "vial", ("vial", False)),
        (nz.normalize_count, "1 through 10", ("1 through 10", True)),
        (nz.normalize_count, "1-10", ("1 through 10", True)),
        (nz.normalize_count, "0", ("0", True)),
        (nz.normalize_count, "15.0", ("15", True)),
        (nz.normalize_count, 299, ("299", True)),
        (nz.normalize_count, "5", ("5", False)),
        (nz.normalize_count, "many", ("many", False)),
        (nz.normalize_setting, None, (None, True)),
    ],
)
def test_enumerations(function, published, expected):
    assert function(published) == expected


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("BLUE CROSS BLUE SHIELD [110001]", "Blue Cross Blue Shield"),
        ("BCBS of Texas", "Blue Cross Blue Shield"),
        ("Anthem Blue Cross", "Blue Cross Blue Shield"),
        ("UHC", "UnitedHealthcare"),
        ("United Healthcare", "UnitedHealthcare"),
        ("AETNA [1001]", "Aetna"),
        ("Cigna (12345)", "Cigna"),
        ("MEDICARE ADVANTAGE", "Medicare Advantage"),
        ("Platform_Health_Insurance", "PLATFORM HEALTH INSURANCE"),
        ("  acme   health ", "ACME HEALTH"),
        ("", None),
        (None, None),
    ],
)
def test_payer_names(published, expected):
    assert nz.normalize_payer_name(published) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-27", dt.date(2026, 3, 27)),
        ("4/1/2026", dt.date(2026, 4, 1)),
        ("04/01/2026", dt.date(2026, 4, 1)),
        ("    2026-02-28", dt.date(2026, 2, 28)),
        ("2026-03-27T00:00:00", dt.date(2026, 3, 27)),
        ("46113", dt.date(2026, 4, 1)),  # spreadsheet serial day
        ("2/30/2026", None),
        ("July 1 2024", None),
        (None, None),
    ],
)
def test_dates(text, expected):
    assert nz.parse_date(text) == expected


def test_pipe_lists_and_booleans():
    assert nz.split_pipe_list("0000000001 | 0000000002 | 0000000003  ") == ["0000000001", "0000000002", "0000000003"]
    assert nz.split_pipe_list(None) == []
    assert nz.parse_bool("TRUE") is True
    assert nz.parse_bool("false") is False
    assert nz.parse_bool("yes") is True
    assert nz.parse_bool("maybe") is None
