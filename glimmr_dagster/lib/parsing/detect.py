"""What kind of file is this? Decided from the bytes, never from the name or the server's word.

`sniff_file` looks at the first bytes: workbook containers (XLSX zip, XLS OLE2), JSON text, or
delimited text. Archives, PDFs, HTML error pages and binaries are rejected here with a message
saying what the file is. Whether delimited text or a workbook follows a CMS template is decided
by the CMS readers from the header rows; a file that does not raises `NotACmsTemplateError`,
which is where a parser for pre-template ("legacy") files plugs in.
"""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import NotACmsTemplateError, ParseError

SNIFF_BYTES = 64 * 1024

KINDS = ("csv", "json", "xlsx", "xls")


@dataclass(frozen=True)
class Sniff:
    kind: str  # csv | json | xlsx | xls
    hint_disagrees: bool = False


def _first_text(head: bytes) -> str:
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, errors="ignore")
    return head.decode("latin-1")


def sniff_file(path: Path, kind_hint: str | None = None) -> Sniff:
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise ParseError(path, None, f"cannot read the file: {exc}") from exc
    if not head:
        raise NotACmsTemplateError(path, None, "the file is empty")
    kind = _kind_from_bytes(path, head)
    hint = (kind_hint or "").lower().lstrip(".") or None
    return Sniff(kind, hint_disagrees=hint is not None and hint != kind)


def _kind_from_bytes(path: Path, head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile as exc:
            raise NotACmsTemplateError(path, None, f"a damaged ZIP archive ({exc})") from exc
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            return "xlsx"
        listed = ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
        raise NotACmsTemplateError(
            path, None, f"a ZIP archive ({listed}); unpack it and parse the file inside"
        )
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    if head.startswith(b"\x1f\x8b"):
        raise NotACmsTemplateError(path, None, "a gzip-compressed file; decompress it first")
    if head.startswith(b"%PDF"):
        raise NotACmsTemplateError(path, None, "a PDF document")
    text = _first_text(head)
    stripped = text.lstrip()
    if not stripped:
        raise NotACmsTemplateError(path, None, "the file holds only whitespace")
    if "\x00" in text[:4096] and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise NotACmsTemplateError(path, None, "a binary file (NUL bytes in the first 4 KB)")
    first = stripped[0]
    if first in "{[":
        return "json"
    if first == "<":
        lowered = stripped[:512].lower()
        what = "an HTML page" if ("<html" in lowered or "<!doctype html" in lowered) else "an XML/HTML document"
        raise NotACmsTemplateError(path, "byte 0", f"{what}, expected CSV or JSON")
    return "csv"
