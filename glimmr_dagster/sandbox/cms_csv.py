"""CMS standard-charge CSV files (v2.2 and v3.0, tall and wide), rendered and streamed.

Rows 1-3 follow the CMS templates exactly (row-1 general headers incl. the affirmation or
attestation text, row-2 values, row-3 item headers in template order with `code|[i]` expanded);
the data rows are the file version's priced rows (`charges.py`), which satisfy the CMS
conditional rules of their version. Modifier-only rows (no code, a `modifiers` value) follow the
CMS examples.

Besides the plain formats, one format per quirk real files have, each CMS-valid apart from the
quirk itself: a UTF-8 BOM, Windows-1252 bytes, CRLF line endings, upper- or title-cased headers
with spaces around the pipes, and description cells that span two lines.

`CsvLayout` also hands out raw cells, which the XLSX formats write into a sheet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .charges import (
    AFFIRMATION_V2,
    ATTESTATION_V3,
    CONTRACT_PROVISIONS,
    FINANCIAL_AID_POLICY,
    FileStyle,
    PricedRow,
    file_style,
    item_order,
    money,
    percent,
    price_drift,
    price_item,
    priced_rows,
)
from .content import BlockedContent, BytesContent, ContentFormat, ContentSpec, register_format
from .seeding import derive_rng

# The `version` value CMS prescribes for row 2: every v2.x CSV says 2.0.0.
ROW2_VERSION = {"2.2": "2.0.0", "3.0": "3.0.0"}
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

CSV_QUIRKS = {
    "bom": "with a UTF-8 byte-order mark",
    "cp1252": "in Windows-1252 bytes (em dashes, 0x97, in descriptions), served as text/csv without a charset",
    "crlf": "with CRLF line endings",
    "loose-headers": "with upper- or title-cased header names and spaces around the pipes (`Code | 1`)",
    "multiline": "with quoted description cells that span two lines",
}


def csv_cell(value: str) -> str:
    """Quote a cell the way RFC 4180 wants, only when it has to be."""
    if '"' in value:
        return '"' + value.replace('"', '""') + '"'
    if "," in value or "\n" in value or "\r" in value:
        return '"' + value + '"'
    return value


def _as_is(value: str) -> str:
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
# Rendering

NUMERIC_FIELDS = ("standard_charge|gross", "standard_charge|discounted_cash", "standard_charge|min",
                  "standard_charge|max", "drug_unit_of_measurement")
NUMERIC_ENDINGS = ("|negotiated_dollar", "|negotiated_percentage")
NUMERIC_PREFIXES = ("estimated_amount", "median_amount", "10th_percentile", "90th_percentile")


class CsvLayout:
    """Turns priced rows into cells and CSV lines for one (version, layout, style).

    With `quote` the text cells come back ready for a CSV line; without, they are raw values
    (for a spreadsheet).
    """

    def __init__(self, version: str, layout: str, style: FileStyle, *, quote: bool = True):
        self.version = version
        self.layout = layout
        self.style = style
        self.text: Callable[[str], str] = csv_cell if quote else _as_is
        self.columns = item_columns(version, layout, style.code_count, style.pairs)
        self.width = len(self.columns)
        self.index = index = {name: position for position, name in enumerate(self.columns)}
        # Cell positions, looked up once per file rather than once per cell.
        self._code_at = [(index[f"code|{n}"], index[f"code|{n}|type"]) for n in range(1, style.code_count + 1)]
        self._base_at = tuple(index[name] for name in (
            "setting", "modifiers", "drug_unit_of_measurement", "drug_type_of_measurement", "standard_charge|gross",
            "standard_charge|discounted_cash", "standard_charge|min", "standard_charge|max"))
        self._notes_at = index["additional_generic_notes"]
        if layout == "tall":
            amounts = (("median_amount", "10th_percentile", "90th_percentile", "count") if version == "3.0"
                       else ("estimated_amount",))
            self._tall_at = tuple(index[name] for name in (
                "payer_name", "plan_name", "standard_charge|negotiated_dollar",
                "standard_charge|negotiated_percentage", "standard_charge|negotiated_algorithm",
                "standard_charge|methodology", *amounts))
        self._pairs: dict[tuple[str, str], tuple[int, ...]] = {}
        self._quoted: dict[tuple[str, str], tuple[str, str]] = {}

    @property
    def numeric_positions(self) -> set[int]:
        """Columns whose values are numbers (a spreadsheet stores them as such)."""
        return {position for position, name in enumerate(self.columns)
                if name in NUMERIC_FIELDS or name.endswith(NUMERIC_ENDINGS) or name.startswith(NUMERIC_PREFIXES)}

    def general_cells(self, spec: ContentSpec) -> tuple[list[str], list[str]]:
        """Rows 1 and 2: the general data element names and their values, in template order."""
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
            values.append(FINANCIAL_AID_POLICY if extra == "financial_aid_policy" else CONTRACT_PROVISIONS)
        return names, values

    def header_cells(self, spec: ContentSpec) -> list[list[str]]:
        """Rows 1-3 as raw values, rows 1 and 2 padded to the width of row 3."""
        names, values = self.general_cells(spec)
        padding = [""] * max(self.width - len(names), 0)
        return [names + padding, values + padding, list(self.columns)]

    def header_lines(self, spec: ContentSpec) -> list[str]:
        return [",".join(csv_cell(cell) for cell in row) for row in self.header_cells(spec)]

    def _base_cells(self, row: PricedRow) -> list[str]:
        cells = [""] * self.width
        cells[0] = self.text(row.description)
        code_at = self._code_at
        for number, (code, code_type) in enumerate(row.codes):
            code_position, type_position = code_at[number]
            cells[code_position] = code
            cells[type_position] = code_type
        setting, modifiers, unit, unit_type, gross, cash, minimum, maximum = self._base_at
        cells[setting] = row.setting
        cells[modifiers] = row.modifiers
        cells[unit] = row.drug_unit
        cells[unit_type] = row.drug_type
        cells[gross] = money(row.gross)
        cells[cash] = money(row.cash)
        cells[minimum] = money(row.minimum)
        cells[maximum] = money(row.maximum)
        return cells

    def cell_rows(self, row: PricedRow) -> list[list[str]]:
        """The data rows one priced row takes: one per payer in a tall layout, one in a wide layout."""
        if self.layout == "tall":
            return self._tall_cells(row)
        return [self._wide_cells(row)]

    def lines(self, row: PricedRow) -> list[str]:
        return [",".join(cells) for cells in self.cell_rows(row)]

    def _tall_cells(self, row: PricedRow) -> list[list[str]]:
        base = self._base_cells(row)
        text = self.text
        notes_at = self._notes_at
        if not row.rates:
            base[notes_at] = text(row.generic_notes)
            return [base]
        rows = []
        v3 = self.version == "3.0"
        payer_at, plan_at, dollar_at, percentage_at, algorithm_at, methodology_at, *amounts_at = self._tall_at
        for rate in row.rates:
            cells = base.copy()
            cells[payer_at], cells[plan_at] = self._quoted_pair(rate.payer, rate.plan)
            cells[dollar_at] = money(rate.dollar)
            cells[percentage_at] = percent(rate.percentage)
            cells[algorithm_at] = text(rate.algorithm)
            cells[methodology_at] = rate.methodology
            if v3:
                median_at, p10_at, p90_at, count_at = amounts_at
                cells[median_at] = money(rate.median)
                cells[p10_at] = money(rate.p10)
                cells[p90_at] = money(rate.p90)
                cells[count_at] = rate.count
            else:
                cells[amounts_at[0]] = money(rate.estimated)
            notes = f"{row.generic_notes} {rate.notes}" if row.generic_notes and rate.notes else (
                row.generic_notes or rate.notes)
            cells[notes_at] = text(notes)
            rows.append(cells)
        return rows

    def _quoted_pair(self, payer: str, plan: str) -> tuple[str, str]:
        key = (payer, plan)
        quoted = self._quoted.get(key)
        if quoted is None:
            quoted = self._quoted[key] = (self.text(payer), self.text(plan))
        return quoted

    def _pair_positions(self, payer: str, plan: str) -> tuple[int, ...]:
        """Where a payer/plan's cells sit in a wide row; looked up once per pair, not per cell."""
        key = (payer, plan)
        positions = self._pairs.get(key)
        if positions is None:
            prefix = f"{payer}|{plan}"
            index = self.index
            names = [f"standard_charge|{prefix}|negotiated_dollar", f"standard_charge|{prefix}|negotiated_percentage",
                     f"standard_charge|{prefix}|negotiated_algorithm", f"standard_charge|{prefix}|methodology",
                     f"additional_payer_notes|{prefix}"]
            if self.version == "3.0":
                names += [f"median_amount|{prefix}", f"10th_percentile|{prefix}", f"90th_percentile|{prefix}",
                          f"count|{prefix}"]
            else:
                names.append(f"estimated_amount|{prefix}")
            positions = self._pairs[key] = tuple(index[name] for name in names)
        return positions

    def _wide_cells(self, row: PricedRow) -> list[str]:
        cells = self._base_cells(row)
        text = self.text
        v3 = self.version == "3.0"
        for rate in row.rates:
            positions = self._pair_positions(rate.payer, rate.plan)
            cells[positions[0]] = money(rate.dollar)
            cells[positions[1]] = percent(rate.percentage)
            cells[positions[2]] = text(rate.algorithm)
            cells[positions[3]] = rate.methodology
            cells[positions[4]] = text(rate.notes)
            if v3:
                cells[positions[5]] = money(rate.median)
                cells[positions[6]] = money(rate.p10)
                cells[positions[7]] = money(rate.p90)
                cells[positions[8]] = rate.count
            else:
                cells[positions[5]] = money(rate.estimated)
        cells[self._notes_at] = text(row.generic_notes)
        return cells


# ---------------------------------------------------------------------------------------------
# Quirks


def _with_em_dash(description: str) -> str:
    """The description as a Windows user types it: an em dash where the catalog has a hyphen."""
    for separator in (" - ", "; "):
        if separator in description:
            return description.replace(separator, " \u2014 ", 1)
    return description


def _over_two_lines(description: str) -> str:
    """The description wrapped inside its cell, as spreadsheets export long text."""
    for separator in ("; ", ", ", " - "):
        if separator in description:
            return description.replace(separator, separator.rstrip() + "\n", 1)
    return description


def loose_header(name: str, case: str) -> str:
    """A header as hospitals type it: keywords re-cased, spaces around the pipes.

    The payer and plan inside a wide column keep their spelling, and so does the attestation
    or affirmation text (the CMS rules compare header names case-insensitively either way).
    """
    if name in (AFFIRMATION_V2, ATTESTATION_V3):
        return name
    parts = name.split("|")
    keep = set()
    if parts[0] == "standard_charge" and len(parts) == 4:
        keep = {1, 2}
    elif parts[0] not in ("code", "standard_charge", "license_number") and len(parts) == 3:
        keep = {1, 2}
    elif parts[0] == "license_number":
        keep = {1}
    recased = [part if position in keep else (part.upper() if case == "upper" else part[:1].upper() + part[1:])
               for position, part in enumerate(parts)]
    return " | ".join(recased)


def _loosen_headers(header: list[list[str]], spec: ContentSpec) -> list[list[str]]:
    case = derive_rng(spec.seed, spec.fileid, "loose-headers").choice(("upper", "title"))
    row1, row2, row3 = header
    row1 = [loose_header(name, case) if name else name for name in row1]
    row3 = [loose_header(name, case) for name in row3]
    # The CMS template itself ships `code|[i] ` with a trailing space.
    row3[row3.index(loose_header("code|1", case))] += " "
    return [row1, row2, row3]


def render_cms_csv(spec: ContentSpec, version: str, layout: str, quirk: str = "") -> bytes:
    style = file_style(spec, layout)
    if quirk == "bom":
        style = replace(style, bom=True)
    elif quirk == "crlf":
        style = replace(style, line_end="\r\n")
    elif quirk == "cp1252":
        # A byte-order mark would claim UTF-8.
        style = replace(style, bom=False)
    elif quirk and quirk not in CSV_QUIRKS:
        raise ValueError(f"unknown CSV quirk {quirk!r}")
    csv_layout = CsvLayout(version, layout, style)
    rows, modifiers = priced_rows(spec, version, style, layout)
    if quirk == "cp1252":
        _show_quirk(rows, _with_em_dash, "\u2014", " \u2014 facility charge")
    elif quirk == "multiline":
        _show_quirk(rows, _over_two_lines, "\n", "\nfacility charge")
    header = csv_layout.header_cells(spec)
    if quirk == "loose-headers":
        header = _loosen_headers(header, spec)
    lines = [",".join(csv_cell(cell) for cell in cells) for cells in header]
    for row in rows:
        lines.extend(csv_layout.lines(row))
    for row in modifiers:
        lines.extend(csv_layout.lines(row))
    text = style.line_end.join(lines) + style.line_end
    if quirk == "cp1252":
        return text.encode("cp1252")
    data = text.encode("utf-8")
    return b"\xef\xbb\xbf" + data if style.bom else data


def _show_quirk(rows: list[PricedRow], rewrite: Callable[[str], str], marker: str, suffix: str) -> None:
    """Rewrite every description; the first row shows the quirk even when its text leaves no room."""
    for row in rows:
        row.description = rewrite(row.description)
    if rows and marker not in rows[0].description:
        rows[0].description += suffix


# ---------------------------------------------------------------------------------------------
# Streaming large files


class LargeTallCsv(BlockedContent):
    """A CMS tall CSV of an exact byte size, produced on the fly.

    The body is a fixed-length block of data rows repeated; every row carries a chargemaster
    number made of the block number and the row's place in the block, so rows stay distinct
    across the whole file. Blocks have a fixed length, so the block holding any byte offset is
    one division away, which is what makes Range requests cheap. The few bytes after the last
    whole block are ordinary rows plus one row whose notes pad the file to its exact size.
    """

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
        items = item_order(spec)
        drift = price_drift(spec)
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
        self._templates = [line.encode("utf-8") for line in template_lines]
        self.block_length = sum(len(piece) for piece in self._pieces) + self.BLOCK_DIGITS * (len(self._pieces) - 1)

        filler_item = PricedRow(description="Miscellaneous supply", codes=[("0270", "RC"),
                                (f"{self.PLACEHOLDER}99999", "CDM")], setting="both", gross=12.0, cash=9.0)
        self._filler_layout = layout
        self._filler_row = filler_item
        self._line_end = style.line_end
        filler_min = len(self._filler(0, "")) + 1

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

    def _filler(self, block_number: int, notes: str) -> bytes:
        self._filler_row.generic_notes = notes
        line = self._filler_layout.lines(self._filler_row)[0] + self._line_end
        return line.encode("utf-8").replace(self.PLACEHOLDER.encode(), self._digits(block_number))

    def block(self, block_number: int) -> bytes:
        return self._digits(block_number).join(self._pieces)


# ---------------------------------------------------------------------------------------------
# Registration

for _version in ("2.2", "3.0"):
    for _layout in ("tall", "wide"):
        register_format(ContentFormat(
            name=f"cms-csv-{_version}-{_layout}",
            suffix="csv",
            media_type=CSV_MEDIA_TYPE,
            build=lambda spec, version=_version, layout=_layout: BytesContent(render_cms_csv(spec, version, layout)),
            description=f"CMS v{_version} {_layout} CSV",
            tags=("cms", "csv", _version, _layout),
            family=f"csv-{_layout}",
            cms_version=_version,
            layout=_layout,
        ))
        for _quirk, _what in CSV_QUIRKS.items():
            register_format(ContentFormat(
                name=f"cms-csv-{_version}-{_layout}-{_quirk}",
                suffix="csv",
                # Servers rarely know a file's encoding; a cp1252 file is typically served as UTF-8 or bare.
                media_type="text/csv" if _quirk == "cp1252" else CSV_MEDIA_TYPE,
                build=lambda spec, version=_version, layout=_layout, quirk=_quirk: BytesContent(
                    render_cms_csv(spec, version, layout, quirk)),
                description=f"CMS v{_version} {_layout} CSV {_what}",
                tags=("cms", "csv", _version, _layout, "quirk", _quirk),
                family=f"csv-{_layout}",
                cms_version=_version,
                layout=_layout,
            ))
    register_format(ContentFormat(
        name=f"cms-csv-{_version}-tall-large",
        suffix="csv",
        media_type=CSV_MEDIA_TYPE,
        build=lambda spec, version=_version: LargeTallCsv(spec, version),
        streaming=True,
        description=f"CMS v{_version} tall CSV of an exact size, streamed",
        tags=("cms", "csv", _version, "tall", "large"),
        family="csv-tall",
        cms_version=_version,
        layout="tall",
    ))
