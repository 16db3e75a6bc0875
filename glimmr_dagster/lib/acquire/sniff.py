"""What a file is, judged by its first bytes rather than by its name.

Hospitals' links lie: a `.csv` link serves JSON, a `.zip` link serves an XLSX workbook, and a
link to a file that moved serves the website's HTML error page with status 200. The kind
decided here picks the parser, the storage suffix and whether an archive is unpacked.
"""

from __future__ import annotations

import enum
import re

# How many leading bytes the callers should collect before asking: enough to see past a ZIP's
# first few local headers (an XLSX names `xl/...` parts within the first few KB) and past any
# leading whitespace of a JSON or HTML body.
SNIFF_BYTES = 64 * 1024


class Kind(str, enum.Enum):
    """The kind of a stored object; its value is also the stored file's suffix."""

    ZIP = "zip"
    XLSX = "xlsx"
    XLS = "xls"
    GZIP = "gzip"
    JSON = "json"
    CSV = "csv"  # any delimited text: comma, tab, pipe or semicolon
    HTML = "html"  # a web page (usually an error or login page), never price data
    EMPTY = "empty"
    UNKNOWN = "unknown"  # binary content of no format we parse (PDF, images, ...)

    @property
    def is_archive(self) -> bool:
        return self in (Kind.ZIP, Kind.GZIP)

    @property
    def is_price_data(self) -> bool:
        """A kind the parsers read."""
        return self in (Kind.XLSX, Kind.XLS, Kind.JSON, Kind.CSV)

    def __str__(self) -> str:
        return self.value


ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
GZIP_MAGIC = b"\x1f\x8b"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound-file container of legacy .xls
# Part names that only an Office Open XML package has near its start.
XLSX_MARKERS = (b"[Content_Types].xml", b"xl/")

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# Control characters that never occur in text (tab, newlines, form feed and escape excepted).
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def _leading_text(first_bytes: bytes) -> str | None:
    """The start of the body as text without BOM and leading whitespace, or None if binary."""
    head = first_bytes[:4096]
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, errors="ignore").lstrip()
    if _BINARY_BYTES.search(head):
        return None
    return head.decode("utf-8", errors="ignore").lstrip()


def detect_kind(first_bytes: bytes) -> Kind:
    """The kind of a body from its first bytes (ideally `SNIFF_BYTES` of them, or all if fewer)."""
    if not first_bytes:
        return Kind.EMPTY
    if first_bytes.startswith(ZIP_MAGIC):
        window = first_bytes[:SNIFF_BYTES]
        return Kind.XLSX if any(marker in window for marker in XLSX_MARKERS) else Kind.ZIP
    if first_bytes.startswith(GZIP_MAGIC):
        return Kind.GZIP
    if first_bytes.startswith(OLE2_MAGIC):
        return Kind.XLS
    text = _leading_text(first_bytes)
    if text is None:
        return Kind.UNKNOWN
    if text == "":
        # Only whitespace (or a lone BOM): nothing a parser could read.
        return Kind.EMPTY
    if text[0] in "{[":
        return Kind.JSON
    if text[0] == "<":
        return Kind.HTML
    return Kind.CSV


def is_xlsx_package(member_names: list[str]) -> bool:
    """Whether a ZIP's member list is an Excel workbook rather than an archive of files."""
    names = set(member_names)
    return "[Content_Types].xml" in names and any(name.startswith("xl/") for name in names)


def describe_body(first_bytes: bytes, limit: int = 120) -> str:
    """A short, printable account of what a body starts with, for error messages."""
    if not first_bytes:
        return "an empty body"
    kind = detect_kind(first_bytes)
    if kind is Kind.HTML:
        text = first_bytes[:SNIFF_BYTES].decode("utf-8", errors="replace")
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        if title and title.group(1).strip():
            return f"an HTML page titled {' '.join(title.group(1).split())[:limit]!r}"
        return f"an HTML page starting {' '.join(text.split())[:limit]!r}"
    if kind is Kind.EMPTY:
        return f"a body of {len(first_bytes)} whitespace bytes"
    preview = first_bytes[:limit]
    if kind is Kind.UNKNOWN:
        return f"binary content starting {preview[:32]!r}"
    return f"{kind.value} content starting {preview!r}"
