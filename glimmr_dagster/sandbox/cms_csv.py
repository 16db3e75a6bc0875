"""CMS standard-charge CSV files (v2.2 and v3.0, tall and wide), rendered and streamed.

Rows 1-3 follow the CMS templates exactly (row-1 general headers incl. the affirmation or
attestation text, row-2 values, row-3 item headers in template order with `code|[i]` expanded),
and every data row satisfies the CMS conditional rules of its version:

- a payer-specific charge carries payer, plan and methodology; methodology `other` has notes;
- an item has at least one of gross, discounted cash or a negotiated charge;
- a negotiated dollar comes with the item's min and max;
- NDC items carry drug unit and unit type;
- v2.2: a percentage or algorithm without a dollar carries `estimated_amount`;
- v3.0: a percentage or algorithm carries `count`, and median/10th/90th unless count is "0";
  count "0" carries notes; a tall payer row always carries a negotiated charge.

Modifier-only rows (no code, a `modifiers` value) follow the CMS examples.

Everything derives from (seed, fileid, version): style choices that a hospital keeps from one
upload to the next (payers, code columns, line endings) from (seed, fileid) only.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from .catalog import ALGORITHMS, CATALOG, MODIFIERS, PAYERS, CatalogItem
from .content import BytesContent, Content, ContentFormat, ContentSpec, register_format
from .geography import STATES
from .seeding import derive_rng

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

# The `version` value CMS prescribes for row 2: every v2.x CSV says 2.0.0.
ROW2_VERSION = {"2.2": "2.0.0", "3.0": "3.0.0"}

OTHER_NOTE = "Methodology is explained in the algorithm data element."
COUNT_ZERO_NOTE = "No claims were paid for this service during the 15-month lookback period."


def csv_cell(value: str) -> str:
    """Quote a cell the way RFC 4180 wants, only when it has to be."""
    if '"' in value:
        return '"' + value.replace('"', '""') + '"'
    if "," in value or "\n" in value or "\r" in value:
        return '"' + value + '"'
    return value


# ---------------------------------------------------------------------------------------------
# Column layouts (row 3)


def _code_columns(code_count: int) -> list[str]:
    columns: list[str] = []
    for index in range(1, code_count + 1):
        columns += [f"code|{index}", f"code|{index}|type"]
    return columns


def item_columns(version: str, layout: str, code_count: int, pairs: tuple[tuple[str, str], ...]) -> list[str]:
    """Row-3 headers in CMS template order, with `[i]`, `[payer_name]` and `[plan_name]` filled."""
    codes = _code_columns(code_count)
    drug = ["drug_unit_of_measurement", "drug_type_of_measurement"]
    charges = ["standard_charge|gross", "standard_charge|discounted_cash"]
    negotiated = ["standard_charge|negotiated_dollar", "standard_charge|negotiated_percentage",
                  "standard_charge|negotiated_algorithm"]
    min_max = ["standard_charge|min", "standard_charge|max"]
    if version == "2.2" and layout == "tall":
        return ["description", *codes, "setting", *drug, *charges, "payer_name", "plan_name", "modifiers",
                *negotiated, "estimated_amount", *min_max, "standard_charge|methodology",
                "additional_generic_notes"]
    if version == "3.0" and layout == "tall":
        return ["description", *codes, "modifiers", "setting", *drug, *charges, "payer_name", "plan_name",
                *negotiated, "median_amount", "10th_percentile", "90th_percentile", "count",
                "standard_charge|methodology", *min_max, "additional_generic_notes"]
    if layout != "wide":
        raise ValueError(f"unknown layout {layout!r}")
    if version == "2.2":
        columns = ["description", *codes, "setting", *drug, *charges, "modifiers"]
        for payer, plan in pairs:
            columns += [f"standard_charge|{payer}|{plan}|negotiated_dollar",
                        f"standard_charge|{payer}|{plan}|negotiated_percentage",
                        f"standard_charge|{payer}|{plan}|negotiated_algorithm",
                        f"estimated_amount|{payer}|{plan}",
                        f"standard_charge|{payer}|{plan}|methodology",
                        f"additional_payer_notes|{payer}|{plan}"]
        return columns + [*min_max, "additional_generic_notes"]
    if version == "3.0":
        columns = ["description", *codes, "modifiers", "setting", *drug, *charges]
        for payer, plan in pairs:
            columns += [f"standard_charge|{payer}|{plan}|negotiated_dollar",
                        f"standard_charge|{payer}|{plan}|negotiated_percentage",
                        f"standard_charge|{payer}|{plan}|negotiated_algorithm",
                        f"median_amount|{payer}|{plan}",
                        f"10th_percentile|{payer}|{plan}",
                        f"90th_percentile|{payer}|{plan}",
                        f"count|{payer}|{plan}",
                        f"standard_charge|{payer}|{plan}|methodology",
                        f"additional_payer_notes|{payer}|{plan}"]
        return columns + [*min_max, "additional_generic_notes"]
    raise ValueError(f"unknown CMS version {version!r}")


# ---------------------------------------------------------------------------------------------
# Per-file style and priced rows


@dataclass(frozen=True)
class CsvStyle:
    """Choices a hospital keeps from one upload to the next."""

    code_count: int
    line_end: str
    bom: bool
    us_date: bool
    true_text: str
    multi_sep: str
    extra_headers: tuple[str, ...]
    whole_dollars: bool
    price_factor: float
    pairs: tuple[tuple[str, str], ...]
    modifier_rows: int
    drop_rc_zero: bool


def file_style(spec: ContentSpec, layout: str, *, large: bool = False) -> CsvStyle:
    rng = derive_rng(spec.seed, spec.fileid, "csv-style")
    state_name = STATES[spec.hospital.state].name if spec.hospital.state in STATES else spec.hospital.state
    pair_count = rng.randint(3, 8) if layout == "tall" else rng.randint(2, 4)
    payers = rng.sample(PAYERS, k=min(pair_count, len(PAYERS)))
    pairs = tuple((payer.format(state=state_name), rng.choice(plans)) for payer, plans in payers)
    extras = []
    if rng.random() < 0.35:
        extras.append("financial_aid_policy")
    if rng.random() < 0.5:
        extras.append("general_contract_provisions")
    return CsvStyle(
        # A large file needs the chargemaster number (the third code) on every row: it makes rows
        # distinct across repeated blocks.
        code_count=3 if large else rng.choice((1, 2, 2, 2, 3)),
        line_end="\n" if large or rng.random() < 0.8 else "\r\n",
        bom=(not large) and rng.random() < 0.15,
        us_date=rng.random() < 0.3,
        true_text=rng.choice(("true", "TRUE", "True")),
        multi_sep=rng.choice(("|", " | ")),
        extra_headers=tuple(extras),
        whole_dollars=rng.random() < 0.3,
        price_factor=rng.uniform(0.6, 2.2),
        pairs=pairs,
        modifier_rows=0 if large or rng.random() < 0.6 else rng.randint(1, 3),
        drop_rc_zero=rng.random() < 0.4,
    )


@dataclass
class Rate:
    payer: str
    plan: str
    methodology: str = ""
    dollar: float | None = None
    percentage: float | None = None
    algorithm: str = ""
    estimated: float | None = None
    median: float | None = None
    p10: float | None = None
    p90: float | None = None
    count: str = ""
    notes: str = ""


@dataclass
class PricedRow:
    description: str
    codes: list[tuple[str, str]]
    setting: str
    modifiers: str = ""
    drug_unit: str = ""
    drug_type: str = ""
    gross: float | None = None
    cash: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    generic_notes: str = ""
    rates: list[Rate] = field(default_factory=list)


def _round_money(value: float, whole: bool) -> float:
    value = round(value) if whole and value >= 100 else round(value, 2)
    return max(value, 0.01)


def money(value: float | None) -> str:
    if value is None:
        return ""
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}"


def percent(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _item_codes(item: CatalogItem, style: CsvStyle, local_code: str) -> list[tuple[str, str]]:
    """The item's code pairs: its own code, then NDC or revenue code, then the chargemaster number."""
    def rc(code: str) -> str:
        return code.lstrip("0") if style.drop_rc_zero and code.startswith("0") else code

    primary = (rc(item.code) if item.code_type == "RC" else item.code, item.code_type)
    extra: list[tuple[str, str]] = []
    if item.ndc:
        extra.append((item.ndc, "NDC"))
    elif item.revenue_code:
        extra.append((rc(item.revenue_code), "RC"))
    extra.append((local_code, "CDM"))
    return [primary, *extra][: style.code_count]


def _price_rate(rng: random.Random, item: CatalogItem, base: float, payer: str, plan: str, version: str,
                style: CsvStyle) -> Rate:
    rate = Rate(payer, plan)
    roll = rng.random()
    if item.kind == "drg":
        kind = "dollar" if roll < 0.7 else ("percentage" if roll < 0.85 else "algorithm")
        dollar_method = "case rate"
    elif item.kind == "room":
        kind = "dollar" if roll < 0.9 else "percentage"
        dollar_method = "per diem" if "per day" in item.description else "case rate"
    elif item.kind == "drug":
        kind = "dollar" if roll < 0.85 else "percentage"
        dollar_method = "fee schedule"
    else:
        kind = "dollar" if roll < 0.78 else ("percentage" if roll < 0.9 else "algorithm")
        dollar_method = "case rate" if item.kind == "procedure" and rng.random() < 0.15 else "fee schedule"

    if kind == "dollar":
        rate.methodology = dollar_method
        rate.dollar = _round_money(base * rng.uniform(0.3, 0.92), style.whole_dollars)
        return rate

    if kind == "percentage":
        rate.methodology = "percent of total billed charges"
        rate.percentage = float(rng.choice((35, 40, 45, 50, 55, 60, 62.5, 65, 70, 72.5, 75, 80, 85, 90)))
        expected = base * rate.percentage / 100
    else:
        pct = rng.choice((105, 110, 115, 120, 125, 130, 140, 150, 175, 200))
        template = rng.choice(ALGORITHMS)
        rate.algorithm = template.format(pct=pct, dollars=money(_round_money(base / 4, True)))
        rate.methodology = "other" if rng.random() < 0.5 else "fee schedule"
        if rate.methodology == "other":
            rate.notes = OTHER_NOTE
        expected = base * rng.uniform(0.35, 0.8)

    if version == "2.2":
        rate.estimated = _round_money(expected, style.whole_dollars)
        return rate
    count_roll = rng.random()
    if count_roll < 0.1:
        rate.count = "0"
        rate.notes = f"{rate.notes} {COUNT_ZERO_NOTE}".strip()
    else:
        rate.count = "1 through 10" if count_roll < 0.4 else str(rng.randint(11, 900))
        rate.median = _round_money(expected, False)
        rate.p10 = _round_money(rate.median * rng.uniform(0.55, 0.95), False)
        rate.p90 = _round_money(rate.median * rng.uniform(1.05, 1.6), False)
    return rate


def price_item(rng: random.Random, item: CatalogItem, style: CsvStyle, version: str, local_code: str,
               drift: float) -> PricedRow:
    base = item.gross * style.price_factor * drift * rng.uniform(0.9, 1.1)
    row = PricedRow(
        description=item.description,
        codes=_item_codes(item, style, local_code),
        setting=item.setting,
        drug_unit=item.drug_unit,
        drug_type=item.drug_type,
    )
    if item.kind in ("procedure", "imaging") and rng.random() < 0.05:
        row.modifiers = rng.choice(("26", "TC", "59", "RT", "LT"))
    if rng.random() < 0.92:
        row.gross = _round_money(base, style.whole_dollars)
        if rng.random() < 0.85:
            row.cash = _round_money(base * rng.uniform(0.45, 0.85), style.whole_dollars)
    # A few items list no payer at all (self-pay only): allowed when a gross or cash charge exists.
    payerless = row.gross is not None and rng.random() < 0.04
    if not payerless:
        for payer, plan in style.pairs:
            if rng.random() < 0.8:
                row.rates.append(_price_rate(rng, item, base, payer, plan, version, style))
        if not row.rates:
            payer, plan = rng.choice(style.pairs)
            row.rates.append(_price_rate(rng, item, base, payer, plan, version, style))
    dollars = [rate.dollar for rate in row.rates if rate.dollar is not None]
    if dollars:
        row.minimum, row.maximum = min(dollars), max(dollars)
    if row.gross is None and row.cash is None and not row.rates:
        row.gross = _round_money(base, style.whole_dollars)
    return row


def modifier_row(rng: random.Random, style: CsvStyle) -> PricedRow:
    description, code, pct = rng.choice(MODIFIERS)
    row = PricedRow(description=description, codes=[], setting="both", modifiers=code)
    for payer, plan in style.pairs:
        if rng.random() < 0.7 or not row.rates:
            adjusted = max(pct + rng.choice((-5, -2.5, 0, 0, 2.5, 5)), 1.0)
            row.rates.append(Rate(
                payer, plan, percentage=adjusted,
                notes=f"{adjusted:g}% payment adjustment for the item or service to which the modifier is appended.",
            ))
    return row


# ---------------------------------------------------------------------------------------------
# Rendering


class CsvLayout:
    """Turns priced rows into CSV lines for one (version, layout, style)."""

    def __init__(self, version: str, layout: str, style: CsvStyle):
        self.version = version
        self.layout = layout
        self.style = style
        self.columns = item_columns(version, layout, style.code_count, style.pairs)
        self.width = len(self.columns)
        self.index = {name: position for position, name in enumerate(self.columns)}

    def header_lines(self, spec: ContentSpec) -> list[str]:
        hospital = spec.hospital
        style = self.style
        date = spec.published_date
        last_updated = f"{date.month}/{date.day}/{date.year}" if style.us_date else date.isoformat()
        sep = style.multi_sep
        license_header = f"license_number|{hospital.state}"
        if self.version == "2.2":
            names = ["hospital_name", "last_updated_on", "version", "hospital_location", "hospital_address",
                     license_header, AFFIRMATION_V2]
            values = [hospital.hospital_name, last_updated, ROW2_VERSION["2.2"], sep.join(hospital.location_names),
                      sep.join(hospital.addresses), hospital.license_number, style.true_text]
        else:
            names = ["hospital_name", "last_updated_on", "version", "location_name", "hospital_address",
                     license_header, "type_2_npi", ATTESTATION_V3, "attester_name"]
            values = [hospital.hospital_name, last_updated, ROW2_VERSION["3.0"], sep.join(hospital.location_names),
                      sep.join(hospital.addresses), hospital.license_number, sep.join(hospital.type_2_npis),
                      style.true_text, hospital.attester_name]
        for extra in style.extra_headers:
            names.append(extra)
            if extra == "financial_aid_policy":
                values.append("Patients whose household income is at or below 400% of the federal poverty "
                              "level may qualify for free or discounted care.")
            else:
                values.append("Stop-loss: when total claim charges exceed $250,000.00, the entire claim is "
                              "reimbursed at 45% of charges for all commercial plans.")
        padding = max(self.width - len(names), 0)
        row1 = ",".join(csv_cell(name) for name in names) + "," * padding
        row2 = ",".join(csv_cell(value) for value in values) + "," * padding
        row3 = ",".join(csv_cell(column) for column in self.columns)
        return [row1, row2, row3]

    def _base_cells(self, row: PricedRow) -> list[str]:
        cells = [""] * self.width
        index = self.index
        cells[0] = csv_cell(row.description)
        for number, (code, code_type) in enumerate(row.codes, start=1):
            cells[index[f"code|{number}"]] = code
            cells[index[f"code|{number}|type"]] = code_type
        cells[index["setting"]] = row.setting
        cells[index["modifiers"]] = row.modifiers
        cells[index["drug_unit_of_measurement"]] = row.drug_unit
        cells[index["drug_type_of_measurement"]] = row.drug_type
        cells[index["standard_charge|gross"]] = money(row.gross)
        cells[index["standard_charge|discounted_cash"]] = money(row.cash)
        cells[index["standard_charge|min"]] = money(row.minimum)
        cells[index["standard_charge|max"]] = money(row.maximum)
        return cells

    def lines(self, row: PricedRow) -> list[str]:
        if self.layout == "tall":
            return self._tall_lines(row)
        return [self._wide_line(row)]

    def _tall_lines(self, row: PricedRow) -> list[str]:
        base = self._base_cells(row)
        index = self.index
        notes_at = index["additional_generic_notes"]
        if not row.rates:
            base[notes_at] = csv_cell(row.generic_notes)
            return [",".join(base)]
        lines = []
        v3 = self.version == "3.0"
        for rate in row.rates:
            cells = base.copy()
            cells[index["payer_name"]] = csv_cell(rate.payer)
            cells[index["plan_name"]] = csv_cell(rate.plan)
            cells[index["standard_charge|negotiated_dollar"]] = money(rate.dollar)
            cells[index["standard_charge|negotiated_percentage"]] = percent(rate.percentage)
            cells[index["standard_charge|negotiated_algorithm"]] = csv_cell(rate.algorithm)
            cells[index["standard_charge|methodology"]] = rate.methodology
            if v3:
                cells[index["median_amount"]] = money(rate.median)
                cells[index["10th_percentile"]] = money(rate.p10)
                cells[index["90th_percentile"]] = money(rate.p90)
                cells[index["count"]] = rate.count
            else:
                cells[index["estimated_amount"]] = money(rate.estimated)
            notes = " ".join(note for note in (row.generic_notes, rate.notes) if note)
            cells[notes_at] = csv_cell(notes)
            lines.append(",".join(cells))
        return lines

    def _wide_line(self, row: PricedRow) -> str:
        cells = self._base_cells(row)
        index = self.index
        v3 = self.version == "3.0"
        for rate in row.rates:
            prefix = f"{rate.payer}|{rate.plan}"
            cells[index[f"standard_charge|{prefix}|negotiated_dollar"]] = money(rate.dollar)
            cells[index[f"standard_charge|{prefix}|negotiated_percentage"]] = percent(rate.percentage)
            cells[index[f"standard_charge|{prefix}|negotiated_algorithm"]] = csv_cell(rate.algorithm)
            cells[index[f"standard_charge|{prefix}|methodology"]] = rate.methodology
            cells[index[f"additional_payer_notes|{prefix}"]] = csv_cell(rate.notes)
            if v3:
                cells[index[f"median_amount|{prefix}"]] = money(rate.median)
                cells[index[f"10th_percentile|{prefix}"]] = money(rate.p10)
                cells[index[f"90th_percentile|{prefix}"]] = money(rate.p90)
                cells[index[f"count|{prefix}"]] = rate.count
            else:
                cells[index[f"estimated_amount|{prefix}"]] = money(rate.estimated)
        cells[index["additional_generic_notes"]] = csv_cell(row.generic_notes)
        return ",".join(cells)


def _price_drift(spec: ContentSpec) -> float:
    """Prices creep up a little with each new version, as real chargemasters do."""
    return 1.0 + 0.035 * (spec.version - 1)


def _item_order(spec: ContentSpec) -> list[CatalogItem]:
    """The hospital's chargemaster: a fixed, file-specific order of catalog items."""
    rng = derive_rng(spec.seed, spec.fileid, "chargemaster")
    items = list(CATALOG)
    rng.shuffle(items)
    return items


def render_cms_csv(spec: ContentSpec, version: str, layout: str) -> bytes:
    style = file_style(spec, layout)
    csv_layout = CsvLayout(version, layout, style)
    rng = derive_rng(spec.seed, spec.fileid, spec.version, "csv-rows")
    lines = csv_layout.header_lines(spec)
    target = max(spec.rows, 1)
    items = _item_order(spec)
    # Each version drops or adds a few chargemaster lines, so versions differ in length as well.
    target = max(1, target + rng.randint(-target // 10, target // 10))
    drift = _price_drift(spec)
    data_lines: list[str] = []
    position = 0
    cdm_base = 1000000 + derive_rng(spec.seed, spec.fileid, "cdm").randint(0, 8000000)
    while len(data_lines) < target:
        item = items[position % len(items)]
        local_code = str(cdm_base + position * 7)
        position += 1
        data_lines.extend(csv_layout.lines(price_item(rng, item, style, version, local_code, drift)))
    for _ in range(style.modifier_rows):
        data_lines.extend(csv_layout.lines(modifier_row(rng, style)))
    text = style.line_end.join(lines + data_lines) + style.line_end
    data = text.encode("utf-8")
    return b"\xef\xbb\xbf" + data if style.bom else data


# ---------------------------------------------------------------------------------------------
# Streaming large files


class LargeTallCsv(Content):
    """A CMS tall CSV of an exact byte size, produced on the fly.

    The body is a fixed-length block of data rows repeated; every row carries a chargemaster
    number made of the block number and the row's place in the block, so rows stay distinct
    across the whole file. Blocks have a fixed length, so the block holding any byte offset is
    one division away, which is what makes Range requests cheap. The few bytes after the last
    whole block are ordinary rows plus one row whose notes pad the file to its exact size.
    """

    BLOCK_TARGET_BYTES = 1 << 20
    BLOCK_DIGITS = 8
    PLACEHOLDER = "\x00"
    FILLER_TEXT = "Filler row that keeps this file at its published size. "

    def __init__(self, spec: ContentSpec, version: str):
        if spec.target_size is None:
            raise ValueError("a streaming file needs target_size")
        self.size = spec.target_size
        style = file_style(spec, "tall", large=True)
        layout = CsvLayout(version, "tall", style)
        self.header = (style.line_end.join(layout.header_lines(spec)) + style.line_end).encode("utf-8")

        rng = derive_rng(spec.seed, spec.fileid, spec.version, "large-block")
        items = _item_order(spec)
        drift = _price_drift(spec)
        template_lines: list[str] = []
        template_bytes = 0
        row_number = 0
        while template_bytes < self.BLOCK_TARGET_BYTES:
            item = items[row_number % len(items)]
            local_code = f"{self.PLACEHOLDER}{row_number:05d}"
            for line in layout.lines(price_item(rng, item, style, version, local_code, drift)):
                assert line.count(self.PLACEHOLDER) == 1, "every block row must carry the block number"
                line += style.line_end
                template_lines.append(line)
                template_bytes += len(line) - 1 + self.BLOCK_DIGITS
            row_number += 1
        self._pieces = "".join(template_lines).encode("utf-8").split(self.PLACEHOLDER.encode())
        self._line_templates = [line.encode("utf-8") for line in template_lines]
        self.block_length = sum(len(piece) for piece in self._pieces) + self.BLOCK_DIGITS * (len(self._pieces) - 1)

        filler_item = PricedRow(description="Miscellaneous supply", codes=[("0270", "RC"),
                                (f"{self.PLACEHOLDER}99999", "CDM")], setting="both", gross=12.0, cash=9.0)
        self._filler_layout = layout
        self._filler_row = filler_item
        self._line_end = style.line_end
        filler_min = len(self._filler_line(0, "")) + 1

        body = self.size - len(self.header)
        if body < filler_min:
            raise ValueError(f"a large file must be at least {len(self.header) + filler_min} bytes")
        full_blocks, tail_length = divmod(body, self.block_length)
        if 0 < tail_length < filler_min:
            full_blocks -= 1
            tail_length += self.block_length
        self.full_blocks = full_blocks
        self.body_start = len(self.header)
        self.tail_start = self.body_start + full_blocks * self.block_length
        self.tail = self._build_tail(tail_length, filler_min)
        assert self.tail_start + len(self.tail) == self.size

    def _digits(self, block_number: int) -> bytes:
        return b"%0*d" % (self.BLOCK_DIGITS, block_number)

    def _filler_line(self, block_number: int, notes: str) -> bytes:
        self._filler_row.generic_notes = notes
        line = self._filler_layout.lines(self._filler_row)[0] + self._line_end
        return line.encode("utf-8").replace(self.PLACEHOLDER.encode(), self._digits(block_number))

    def _build_tail(self, length: int, filler_min: int) -> bytes:
        if length == 0:
            return b""
        digits = self._digits(self.full_blocks)
        placeholder = self.PLACEHOLDER.encode()
        parts: list[bytes] = []
        remaining = length
        for template in self._line_templates:
            line = template.replace(placeholder, digits)
            if remaining - len(line) < filler_min:
                break
            parts.append(line)
            remaining -= len(line)
        pad_length = remaining - (filler_min - 1)
        padding = (self.FILLER_TEXT * (pad_length // len(self.FILLER_TEXT) + 1))[:pad_length]
        parts.append(self._filler_line(self.full_blocks, padding))
        tail = b"".join(parts)
        assert len(tail) == length, (len(tail), length)
        return tail

    def block(self, block_number: int) -> bytes:
        return self._digits(block_number).join(self._pieces)

    def iter_range(self, start: int, end: int) -> Iterator[bytes | memoryview]:
        position = max(start, 0)
        end = min(end, self.size)
        while position < end:
            if position < self.body_start:
                chunk: bytes | memoryview = memoryview(self.header)[position:min(end, self.body_start)]
            elif position < self.tail_start:
                block_number, offset = divmod(position - self.body_start, self.block_length)
                take = min(self.block_length - offset, end - position)
                chunk = memoryview(self.block(block_number))[offset:offset + take]
            else:
                offset = position - self.tail_start
                chunk = memoryview(self.tail)[offset:offset + (end - position)]
            yield chunk
            position += len(chunk)


# ---------------------------------------------------------------------------------------------
# Registration

for _version in ("2.2", "3.0"):
    for _layout in ("tall", "wide"):
        register_format(ContentFormat(
            name=f"cms-csv-{_version}-{_layout}",
            suffix="csv",
            media_type="text/csv; charset=utf-8",
            build=lambda spec, version=_version, layout=_layout: BytesContent(render_cms_csv(spec, version, layout)),
            description=f"CMS v{_version} {_layout} CSV",
            tags=("cms", "csv", _version, _layout),
        ))
    register_format(ContentFormat(
        name=f"cms-csv-{_version}-tall-large",
        suffix="csv",
        media_type="text/csv; charset=utf-8",
        build=lambda spec, version=_version: LargeTallCsv(spec, version),
        streaming=True,
        description=f"CMS v{_version} tall CSV of an exact size, streamed",
        tags=("cms", "csv", _version, "tall", "large"),
    ))

