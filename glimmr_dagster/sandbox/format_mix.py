"""How generated hospitals publish their files: the mix of formats across a world.

A generated file first gets a CMS version and layout (the world's draw), then a packaging:
most hospitals publish a plain CMS CSV; others the same data as JSON or an Excel workbook, with
an encoding or header quirk, or wrapped in a ZIP or gzip. A few file names lie about the
content (a `.json` name on a CSV, a `.csv` name on JSON), and, only when a world is asked for
them, a few files are failures (an HTML page, an empty body, a hostile ZIP) behind the name the
file would have had.

The choices come from a random stream of their own, derived from (seed, fileid), so they change
no other property of any file, and turning failures on changes only the files that fail (and, in
a small world, which spare file stands in for a format a failing file took away).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .cms_csv import CSV_QUIRKS
from .content import ContentSpec, get_format
from .seeding import derive_rng

# (packaging, weight in percent) for a generated file.
PACKAGING_WEIGHTS = (
    ("plain", 71),
    ("quirk", 7),
    ("json", 11),
    # CMS templates are CSV or JSON; a workbook is rare (and the costliest file to render).
    ("xlsx", 1),
    ("zip", 6),
    ("gzip", 4),
)
ZIP_WEIGHTS = (("wrapped-zip-csv", 60), ("wrapped-zip-json", 20), ("wrapped-zip-bundle", 10),
               ("wrapped-zip-as-csv", 10))
GZIP_WEIGHTS = (("wrapped-gzip-csv", 70), ("wrapped-gzip-json", 30))
FAILURE_WEIGHTS = (("hostile-html-page", 40), ("hostile-empty", 25), ("hostile-zip-slip", 15),
                   ("hostile-zip-bomb", 20))
# Share of files whose name lies about the content, and share of failures when asked for them.
CSV_NAMED_JSON = 0.03
JSON_NAMED_CSV = 0.05
FAILING_SHARE = 0.03


@dataclass(frozen=True)
class Packaging:
    format_name: str
    inner_format: str
    # How the file's name ends ("csv", "csv.zip", ...): the index's `filesuffix` is its last part.
    extension: str


def _weighted(rng: Any, weights: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in weights], weights=[weight for _, weight in weights])[0]


def cms_basis(format_name: str, inner_format: str = "") -> tuple[str, str]:
    """The CMS version and layout a file's content follows (a wrapper's: its inner file's)."""
    content_format = get_format(format_name)
    if content_format.wraps:
        content_format = get_format(inner_format or content_format.default_inner)
    return content_format.cms_version or "3.0", content_format.layout or "tall"


def inner_for(format_name: str, current: ContentSpec | None) -> str:
    """What a wrapper carries when a file switches to it: the file's own CMS version and layout."""
    wrapper = get_format(format_name)
    if not wrapper.wraps:
        return ""
    if current is None:
        return wrapper.default_inner
    version, layout = cms_basis(current.format_name, current.inner_format)
    return f"cms-csv-{version}-{layout}" if wrapper.wraps == "csv" else f"cms-json-{version}"


def choose_packaging(seed: int, fileid: str, drawn_format: str, *, failing_files: bool = False) -> Packaging:
    """The format a generated file is published in, given its drawn plain CMS CSV format."""
    version, layout = cms_basis(drawn_format)
    rng = derive_rng(seed, "format-mix", fileid)
    packaging = _weighted(rng, PACKAGING_WEIGHTS)
    inner = ""
    if packaging == "plain":
        format_name = drawn_format
    elif packaging == "quirk":
        format_name = f"{drawn_format}-{rng.choice(tuple(CSV_QUIRKS))}"
    elif packaging == "json":
        format_name = f"cms-json-{version}"
    elif packaging == "xlsx":
        format_name = f"cms-xlsx-{version}-{layout}"
    else:
        format_name = _weighted(rng, ZIP_WEIGHTS if packaging == "zip" else GZIP_WEIGHTS)
        wraps = get_format(format_name).wraps
        inner = drawn_format if wraps == "csv" else f"cms-json-{version}"
    content_format = get_format(format_name)
    extension = rng.choice(content_format.extensions) if content_format.extensions else content_format.suffix

    # Both rolls are drawn for every file, so whether failures are on changes no other choice.
    lie, failing = rng.random(), rng.random()
    if content_format.family in ("csv-tall", "csv-wide") and lie < CSV_NAMED_JSON:
        extension = "json"
    elif content_format.family == "json" and lie < JSON_NAMED_CSV:
        extension = "csv"
    if failing_files and failing < FAILING_SHARE:
        # The failure answers at the name the file would have had.
        format_name = _weighted(rng, FAILURE_WEIGHTS)
        inner = drawn_format if get_format(format_name).wraps == "csv" else ""
    return Packaging(format_name, inner, extension)


def fits_name(format_name: str, extension: str) -> bool:
    """Whether a file name ending in `extension` tells the truth about the format."""
    content_format = get_format(format_name)
    return extension in (content_format.extensions or (content_format.suffix,))
