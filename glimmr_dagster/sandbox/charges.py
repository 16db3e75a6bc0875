"""What a generated hospital charges: its chargemaster, payers and priced rows, in no file format.

Every CMS format (CSV, JSON, XLSX, and what wrappers carry) renders the same priced rows, so one
file version means the same prices whatever bytes it is published as. The rows satisfy the CMS
conditional rules of their version:

- a payer-specific charge carries payer, plan and methodology; methodology `other` has notes;
- an item has at least one of gross, discounted cash or a negotiated charge;
- a negotiated dollar comes with the item's min and max;
- NDC items carry drug unit and unit type;
- v2.2: a percentage or algorithm without a dollar carries `estimated_amount`;
- v3.0: a percentage or algorithm carries `count`, and median/10th/90th unless count is "0";
  count "0" carries notes; a payer row always carries a negotiated charge.

Everything derives from (seed, fileid, version); style choices that a hospital keeps from one
upload to the next (payers, code columns, line endings) from (seed, fileid) only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .catalog import ALGORITHMS, CATALOG, MODIFIERS, PAYERS, CatalogItem
from .content import ContentSpec
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

OTHER_NOTE = "Methodology is explained in the algorithm data element."
COUNT_ZERO_NOTE = "No claims were paid for this service during the 15-month lookback period."
FINANCIAL_AID_POLICY = ("Patients whose household income is at or below 400% of the federal poverty level may "
                        "qualify for free or discounted care.")
CONTRACT_PROVISIONS = ("Stop-loss: when total claim charges exceed $250,000.00, the entire claim is reimbursed "
                       "at 45% of charges for all commercial plans.")


@dataclass(frozen=True)
class FileStyle:
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


def file_style(spec: ContentSpec, layout: str, *, large: bool = False) -> FileStyle:
    """The hospital's style for a tall or wide file (JSON files use the tall one)."""
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
    return FileStyle(
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


def _item_codes(item: CatalogItem, style: FileStyle, local_code: str) -> list[tuple[str, str]]:
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
                style: FileStyle) -> Rate:
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


def price_item(rng: random.Random, item: CatalogItem, style: FileStyle, version: str, local_code: str,
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


def modifier_row(rng: random.Random, style: FileStyle, modifier: tuple[str, str, float]) -> PricedRow:
    """A row for a modifier alone (no code): its payment adjustment per payer, as CMS examples list them."""
    description, code, pct = modifier
    row = PricedRow(description=description, codes=[], setting="both", modifiers=code)
    for payer, plan in style.pairs:
        if rng.random() < 0.7 or not row.rates:
            adjusted = max(pct + rng.choice((-5, -2.5, 0, 0, 2.5, 5)), 1.0)
            row.rates.append(Rate(
                payer, plan, percentage=adjusted,
                notes=f"{adjusted:g}% payment adjustment for the item or service to which the modifier is appended.",
            ))
    return row


def price_drift(spec: ContentSpec) -> float:
    """Prices creep up a little with each new version, as real chargemasters do."""
    return 1.0 + 0.035 * (spec.version - 1)


def item_order(spec: ContentSpec) -> list[CatalogItem]:
    """The hospital's chargemaster: a fixed, file-specific order of catalog items."""
    rng = derive_rng(spec.seed, spec.fileid, "chargemaster")
    items = list(CATALOG)
    rng.shuffle(items)
    return items


def tall_line_count(row: PricedRow) -> int:
    """Lines a row takes in a tall layout: one per payer/plan, or one when it has no payer."""
    return max(len(row.rates), 1)


def priced_rows(spec: ContentSpec, version: str, style: FileStyle, layout: str) -> tuple[list[PricedRow],
                                                                                     list[PricedRow]]:
    """The file version's item rows and modifier rows.

    `spec.rows` counts lines of the given layout (a tall file repeats an item once per payer),
    so a tall CSV and a JSON file of the same spec carry the very same items and prices.
    """
    rng = derive_rng(spec.seed, spec.fileid, spec.version, "csv-rows")
    target = max(spec.rows, 1)
    items = item_order(spec)
    # Each version drops or adds a few chargemaster lines, so versions differ in length as well.
    target = max(1, target + rng.randint(-target // 10, target // 10))
    drift = price_drift(spec)
    cdm_base = 1000000 + derive_rng(spec.seed, spec.fileid, "cdm").randint(0, 8000000)
    rows: list[PricedRow] = []
    lines = 0
    position = 0
    while lines < target:
        item = items[position % len(items)]
        local_code = str(cdm_base + position * 7)
        position += 1
        row = price_item(rng, item, style, version, local_code, drift)
        rows.append(row)
        lines += tall_line_count(row) if layout == "tall" else 1
    # Each modifier once: a file listing the same modifier twice would repeat a row exactly.
    chosen = rng.sample(MODIFIERS, k=min(style.modifier_rows, len(MODIFIERS)))
    modifiers = [modifier_row(rng, style, modifier) for modifier in chosen]
    return rows, modifiers
