"""Checks that a served file's bytes are what its format says, written from the CMS rules and the
container formats' own readers (json, jsonschema, fastexcel, zipfile, gzip), not from the generator.

`check_served(format_name, data)` returns a list of problems (empty when the bytes are right):
CSV decoded with the encoding the format claims and checked against the CMS layout and rules,
JSON validated against the official CMS schema of its version, XLSX opened with fastexcel and its
cells checked like a CSV, ZIP and gzip opened and every price file inside checked the same way.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import re
import zipfile
from pathlib import Path

import fastexcel
from jsonschema import Draft7Validator, FormatChecker

from glimmr_dagster.sandbox.content import get_format

from .cms_checker import check_cms_csv, check_cms_rows

# The official CMS JSON schemas (CMSgov/hospital-price-transparency, identical to the ones the
# CMS validator uses), copied here so the check needs nothing outside the repository.
SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA_FILES = {
    "2.2": "V2.2.0_Hospital_price_transparency_schema.json",
    "3.0": "V3.0.0_Hospital_price_transparency_schema.json",
}
JSON_VERSIONS = {"2.2": "2.2.0", "3.0": "3.0.0"}
CSV_VERSIONS = {"2.2": "2.0.0", "3.0": "3.0.0"}
EXCEL_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$")


@functools.cache
def schema_validator(version: str) -> Draft7Validator:
    schema = json.loads((SCHEMAS / SCHEMA_FILES[version]).read_text(encoding="utf-8"))
    return Draft7Validator(schema, format_checker=FormatChecker())


def check_json(data: bytes, version: str) -> list[str]:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return [f"not UTF-8 JSON: {error}"]
    problems = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
                for error in schema_validator(version).iter_errors(document)][:20]
    if document.get("version") != JSON_VERSIONS[version]:
        problems.append(f"version {document.get('version')!r}")
    return problems


def csv_encoding(format_name: str) -> str:
    return "cp1252" if format_name.endswith("-cp1252") else "utf-8-sig"


def check_csv(format_name: str, data: bytes) -> list[str]:
    content_format = get_format(format_name)
    problems: list[str] = []
    if format_name.endswith("-cp1252"):
        try:
            data.decode("utf-8")
            problems.append("a cp1252 file that is valid UTF-8 (no cp1252 byte in it)")
        except UnicodeDecodeError:
            pass
        if b"\x97" not in data:
            problems.append("no em dash (0x97)")
    if format_name.endswith("-bom") and not data.startswith(b"\xef\xbb\xbf"):
        problems.append("no byte-order mark")
    try:
        result = check_cms_csv(data, encoding=csv_encoding(format_name),
                               strict_headers=not format_name.endswith("-loose-headers"))
    except UnicodeDecodeError as error:
        return problems + [f"not {csv_encoding(format_name)}: {error}"]
    problems += result.errors
    if (result.layout, result.version) != (content_format.layout, CSV_VERSIONS[content_format.cms_version]):
        problems.append(f"a {result.version} {result.layout} file, not {content_format.cms_version} "
                        f"{content_format.layout}")
    return problems


def workbook_rows(data: bytes) -> list[list[str]]:
    """The cells of the sheet holding the CMS header, as text the way a CSV would hold them."""
    reader = fastexcel.read_excel(data)
    for index in range(len(reader.sheet_names)):
        frame = reader.load_sheet(index, header_row=None, dtypes="string").to_polars()
        rows = [["" if value is None else str(value) for value in row] for row in frame.iter_rows()]
        if len(rows) > 3 and "description" in rows[2]:
            # A date cell reads back as a timestamp, a boolean as true/false.
            rows[1] = [EXCEL_DATE.sub(r"\1", value) for value in rows[1]]
            return rows
    raise AssertionError(f"no sheet with a CMS header in {reader.sheet_names}")


def check_xlsx(format_name: str, data: bytes) -> list[str]:
    content_format = get_format(format_name)
    if not data.startswith(b"PK\x03\x04") or b"[Content_Types].xml" not in data[:4096]:
        return ["not an Office Open XML package"]
    result = check_cms_rows(workbook_rows(data))
    problems = list(result.errors)
    if (result.layout, result.version) != (content_format.layout, CSV_VERSIONS[content_format.cms_version]):
        problems.append(f"a {result.version} {result.layout} sheet")
    return problems


def _check_member(name: str, data: bytes, inner_format: str) -> list[str]:
    """A price file found inside a wrapper: checked by what its name says it is."""
    if name.endswith(".json"):
        return check_json(data, get_format(inner_format).cms_version or "3.0")
    result = check_cms_csv(data)
    return [f"{name}: {error}" for error in result.errors]


def check_served(format_name: str, data: bytes, inner_format: str = "") -> list[str]:
    """Problems with `data` as a file of `format_name` (wrapping `inner_format`); [] when right."""
    content_format = get_format(format_name)
    family = content_format.family
    inner_format = inner_format or content_format.default_inner
    if family in ("csv-tall", "csv-wide"):
        return check_csv(format_name, data)
    if family == "json":
        return check_json(data, content_format.cms_version)
    if family == "xlsx":
        return check_xlsx(format_name, data)
    if family == "gzip":
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            inner = stream.read()
        name = gzip_member_name(data)
        if not name.endswith("." + content_format.extension.split(".")[0]):
            return [f"gzip names its file {name!r}"]
        return _check_member(name, inner, inner_format)
    if family == "zip":
        archive = zipfile.ZipFile(io.BytesIO(data))
        if archive.testzip() is not None:
            return ["a corrupt member"]
        problems = []
        price_files = [info.filename for info in archive.infolist()
                       if info.filename.endswith((".csv", ".json")) and not info.filename.startswith("__MACOSX/")]
        if not price_files:
            problems.append("no price file inside")
        for name in price_files:
            problems += _check_member(name, archive.read(name), inner_format)
        return problems
    raise AssertionError(f"{format_name} is a {family or 'plain'} format: check it on its own")


def gzip_member_name(data: bytes) -> str:
    """The file name a gzip header carries (FNAME), as `gzip -N` would restore it."""
    flags = data[3]
    position = 10
    if flags & 0x04:
        position += 2 + int.from_bytes(data[position:position + 2], "little")
    if not flags & 0x08:
        return ""
    end = data.index(b"\x00", position)
    return data[position:end].decode("latin-1")
