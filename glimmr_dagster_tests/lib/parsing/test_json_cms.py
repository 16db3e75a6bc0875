"""CMS JSON specifics, in small files the tests write."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from glimmr_dagster.lib.parsing import ParseError

ATTESTATION = {"attestation": "To the best of its knowledge and belief, this hospital has included all ...", "confirm_attestation": True, "attester_name": "Pat Doe"}
HEAD = {
    "hospital_name": "JSON Hospital",
    "last_updated_on": "2026-02-14",
    "version": "3.0.0",
    "location_name": ["JSON Hospital"],
    "hospital_address": ["1 Main St"],
    "license_information": {"license_number": "77", "state": "ga"},
    "type_2_npi": ["1234567890"],
    "attestation": ATTESTATION,
}


def item(description="MRI brain", payers=None, **charge) -> dict:
    charge = {"setting": "outpatient", "gross_charge": 1200, "discounted_cash": 1080, "minimum": 250, "maximum": 400, **charge}
    if payers is not None:
        charge["payers_information"] = payers
    return {
        "description": description,
        "code_information": [{"code": "611", "type": "RC"}, {"code": "70551", "type": "CPT"}],
        "standard_charges": [charge],
    }


PAYER = {"payer_name": "Aetna", "plan_name": "PPO", "standard_charge_dollar": 400, "methodology": "fee schedule"}


def document(*items, head=HEAD, tail=None) -> str:
    return json.dumps({**head, "standard_charge_information": list(items), **(tail or {})}, indent=2)


def test_items_flatten_to_payer_rows_and_items_without_payers(parse, write):
    doc = document(item(payers=[PAYER, {**PAYER, "payer_name": "Cigna", "standard_charge_dollar": 380}]), item("Room", payers=None))
    parsed = parse(write("a.json", doc))
    assert (parsed.result.rows_read, parsed.result.rows_written) == (3, 3)
    rows = parsed.table.rows(named=True)
    assert [r["source_json_path"] for r in rows] == [
        "/standard_charge_information/0/standard_charges/0/payers_information/0",
        "/standard_charge_information/0/standard_charges/0/payers_information/1",
        "/standard_charge_information/1/standard_charges/0",
    ]
    assert [r["negotiated_dollar"] for r in rows] == [400.0, 380.0, None]
    assert rows[2]["description"] == "Room" and rows[2]["gross_charge"] == 1200.0
    assert rows[0]["codes"] == [{"type": "RC", "code": "0611"}, {"type": "CPT", "code": "70551"}]
    assert (rows[0]["license_state"], rows[0]["last_updated_on"]) == ("GA", dt.date(2026, 2, 14))


def test_root_keys_after_the_items_are_read_and_fill_the_rows(parse, write):
    # Items first, then every general-data key: the rows get the file-level values anyway.
    tail = {**HEAD, "modifier_information": [{"description": "Bilateral", "code": "50", "setting": "both", "modifier_payer_information": [{"payer_name": "Aetna", "plan_name": "PPO", "description": "150%"}]}]}
    doc = json.dumps({"standard_charge_information": [item(payers=[PAYER])], **tail})
    parsed = parse(write("tail.json", doc))
    assert parsed.result.metadata.hospital_name == "JSON Hospital"
    assert parsed.result.cms_version == "3.0"
    assert parsed.table["hospital_name"].cast(str).to_list() == ["JSON Hospital", "JSON Hospital"]
    modifier = parsed.row(source_json_path="/modifier_information/0/modifier_payer_information/0")
    assert (modifier["modifiers"], modifier["additional_payer_notes"]) == (["50"], "150%")


def test_bom_and_numbers_published_as_text(parse, write):
    payer = {**PAYER, "standard_charge_dollar": "$1,234.50", "count": 12, "median_amount": "999999999"}
    doc = "\ufeff" + document(item(payers=[payer], gross_charge="N/A"))
    parsed = parse(write("bom.json", doc.encode("utf-8")))
    row = parsed.table.row(0, named=True)
    assert (row["negotiated_dollar"], row["gross_charge"], row["allowed_amount_count"]) == (1234.5, None, "12")
    assert row["median_amount"] == 999999999.0 and row["flags"] == ["placeholder:median_amount"]
    assert row["discounted_cash"] == 1080.0


def test_unknown_keys_are_counted_not_lost_silently(parse, write):
    doc = document(item(payers=[{**PAYER, "network": "Tier 1"}], billing_note="x"), head={**HEAD, "vendor": "Acme"})
    data = json.loads(doc)
    data["standard_charge_information"][0]["internal_id"] = "A-1"
    parsed = parse(write("extra.json", json.dumps(data)))
    assert parsed.result.cells_not_carried == {
        "standard_charge_information[].standard_charges[].payers_information[].network": 1,
        "standard_charge_information[].standard_charges[].billing_note": 1,
        "standard_charge_information[].internal_id": 1,
    }
    assert parsed.result.metadata.extra == {"vendor": "Acme"}
    assert parsed.table.row(0, named=True)["negotiated_dollar"] == 400.0


def test_duplicate_records_and_empty_payer_objects(parse, write):
    doc = document(item(payers=[PAYER, PAYER, {}]), item(payers=[PAYER]))
    parsed = parse(write("dups.json", doc))
    result = parsed.result
    assert result.rows_read == 4
    assert result.rejects_by_reason == {"duplicate_row": 2, "empty_record": 1}
    assert result.rejects.examples["empty_record"] == ["/standard_charge_information/0/standard_charges/0/payers_information/2"]
    assert result.rows_written == 1 and result.duplicates_dropped == 2


def test_v2_json_drug_units_as_text_and_affirmation(parse, write):
    v2_head = {
        "hospital_name": "Old Hospital", "last_updated_on": "2024-07-01", "version": "2.2.0",
        "hospital_location": ["Old Hospital"], "hospital_address": ["2 Main St"],
        "license_information": {"state": "CA"},
        "affirmation": {"affirmation": "To the best of its knowledge ...", "confirm_affirmation": False},
    }
    drug = {"description": "Aspirin", "code_information": [{"code": "10135-0729-62", "type": "NDC"}], "drug_information": {"unit": "1", "type": "un"},
            "standard_charges": [{"setting": "both", "gross_charge": 2, "payers_information": [{**PAYER, "estimated_amount": 0.8}]}]}
    parsed = parse(write("v2.json", document(drug, head=v2_head)))
    row = parsed.table.row(0, named=True)
    assert parsed.result.cms_version == "2.2"
    assert parsed.result.metadata.attestation_confirmed is False
    assert parsed.result.metadata.location_names == ["Old Hospital"]
    assert (row["drug_unit_of_measurement"], row["drug_type_of_measurement"], row["estimated_amount"]) == (1.0, "UN", 0.8)
    assert row["codes"] == [{"type": "NDC", "code": "10135072962"}]


def test_invalid_json_names_the_item_and_byte(parse, write):
    doc = document(item(payers=[PAYER]), item("Second", payers=[PAYER]))
    broken = doc.replace('"description": "Second"', '"description": "Second" "oops"')
    path = write("broken.json", broken)
    with pytest.raises(ParseError, match=r"at /standard_charge_information/1 \(byte \d+\): invalid JSON: Expecting ',' delimiter") as caught:
        parse(path)
    assert str(path) in str(caught.value)
    oops = broken.encode().index(b'"oops"')
    assert caught.value.location == f"/standard_charge_information/1 (byte {oops})"
    assert not list((path.parent.parent / "lake").glob("*"))


def test_truncated_json_fails_clearly(parse, write):
    doc = document(item(payers=[PAYER]), item("Second", payers=[PAYER]))
    with pytest.raises(ParseError, match="invalid JSON"):
        parse(write("truncated.json", doc[: len(doc) // 2]))


def test_items_before_general_data_in_a_large_file(parse, write):
    items = [item(f"Item {i}", payers=[{**PAYER, "standard_charge_dollar": i + 1}]) for i in range(3000)]
    parsed = parse(write("many.json", json.dumps({"standard_charge_information": items, **HEAD})))
    assert parsed.result.rows_written == 3000
    assert parsed.table["negotiated_dollar"].sum() == sum(range(1, 3001))
    assert parsed.table["hospital_name"].cast(str).unique().to_list() == ["JSON Hospital"]
