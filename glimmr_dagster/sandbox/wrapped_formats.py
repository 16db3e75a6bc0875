"""Wrapped and hostile file contents: what downloads meet besides a plain price file.

| format | suffix | bytes |
|---|---|---|
| `wrapped-zip-csv` | zip | a ZIP of one CMS CSV (named `.zip` or `.csv.zip`) |
| `wrapped-zip-json` | zip | a ZIP of one CMS JSON (named `.zip` or `.json.zip`) |
| `wrapped-zip-bundle` | zip | a ZIP of a tall and a wide CMS CSV, a README, a `__MACOSX/` entry |
| `wrapped-zip-as-csv` | csv | a ZIP of one CMS CSV behind a `.csv` name (a suffix that lies) |
| `wrapped-gzip-csv` | gz | a gzip of one CMS CSV, its header naming the CSV |
| `wrapped-gzip-json` | gz | a gzip of one CMS JSON, its header naming the JSON |
| `hostile-html-page` | csv | the website's "page moved" HTML, served with status 200 |
| `hostile-empty` | csv | no bytes at all |
| `hostile-zip-slip` | zip | a ZIP whose member climbs out with `../` |
| `hostile-zip-bomb` | zip | a ZIP whose member inflates about 1,000x to 64 MiB |

What a wrapper carries is `ContentSpec.inner_format` (default: CMS v3.0 tall CSV, or v3.0 JSON);
the bundle takes the CMS version from it. The world gives a wrapped file the CMS format it
would otherwise have published, so a v2.2 hospital's ZIP holds a v2.2 file.

`use_format(world, fileid, name)` gives one file's current version another format in place,
like a hospital replacing its file without PRA noticing: same version number, same URL, not
written to the state file. `SandboxWorld.publish(fileids, format=name)` is the recorded way.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import io
import struct
import zipfile
import zlib
from dataclasses import replace
from typing import Any

from .content import (
    BytesContent,
    Content,
    ContentFormat,
    ContentSpec,
    build_content,
    get_format,
    inner_spec,
    register_format,
)

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
BOMB_MEMBER_BYTES = 64 * 1024 * 1024
_BOMB_BLOCK = b"0" * (1 << 20)


def _zip_time(spec: ContentSpec) -> tuple[int, int, int, int, int, int]:
    moment = dt.datetime.fromtimestamp(spec.published_at, dt.timezone.utc)
    return (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, moment.second)


def _zip(spec: ContentSpec, members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_zip_time(spec))
            info.compress_type = zipfile.ZIP_STORED if name.endswith("/") else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def _stem(spec: ContentSpec) -> str:
    return f"{spec.fileid[:8]}_standardcharges"


def _inner(spec: ContentSpec) -> tuple[str, bytes]:
    """The wrapped file's name and bytes."""
    inner = inner_spec(spec)
    return f"{_stem(spec)}.{get_format(inner.format_name).extension}", build_content(inner).read_all()


def zip_one(spec: ContentSpec) -> Content:
    return BytesContent(_zip(spec, [_inner(spec)]))


def zip_bundle(spec: ContentSpec) -> Content:
    stem = _stem(spec)
    version = get_format(inner_spec(spec).format_name).cms_version or "3.0"

    def member(layout: str) -> bytes:
        return build_content(replace(spec, format_name=f"cms-csv-{version}-{layout}", inner_format="")).read_all()

    return BytesContent(_zip(spec, [
        ("prices/", b""),
        (f"prices/{stem}_tall.csv", member("tall")),
        (f"prices/{stem}_wide.csv", member("wide")),
        ("README.txt", b"Standard charges of the hospitals listed in each file, per 45 CFR 180.50.\n"),
        (f"__MACOSX/prices/._{stem}_tall.csv", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "),
    ]))


def gzip_one(spec: ContentSpec) -> Content:
    name, data = _inner(spec)
    buffer = io.BytesIO()
    # Level 6, as gzip(1) and most servers use, and much faster to write than Python's default 9.
    with gzip.GzipFile(filename=name, mode="wb", fileobj=buffer, mtime=int(spec.published_at),
                       compresslevel=6) as out:
        out.write(data)
    return BytesContent(buffer.getvalue())


def html_page(spec: ContentSpec) -> Content:
    return BytesContent(
        b"<!DOCTYPE html>\n<html><head><title>Page Moved | Patient Billing</title></head><body>"
        b"<h1>This page has moved</h1><p>Our price transparency files are now on the "
        b"<a href=\"/price-transparency/\">Price Transparency</a> page.</p></body></html>\n"
    )


def empty(spec: ContentSpec) -> Content:
    return BytesContent(b"")


def zip_slip(spec: ContentSpec) -> Content:
    return BytesContent(_zip(spec, [
        _inner(spec),
        ("../../../../tmp/glimmr-zip-slip.csv", b"a,b\n1,2\n"),
    ]))


@functools.lru_cache(maxsize=1)
def _bomb_payload() -> tuple[bytes, int]:
    """The deflated member of every zip bomb, and its CRC: compressed once per process, as it
    costs a fraction of a second and is the same for every file."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts, crc = [], 0
    for _ in range(BOMB_MEMBER_BYTES // len(_BOMB_BLOCK)):
        parts.append(compressor.compress(_BOMB_BLOCK))
        crc = zlib.crc32(_BOMB_BLOCK, crc)
    parts.append(compressor.flush())
    return b"".join(parts), crc


def zip_bomb(spec: ContentSpec) -> Content:
    """One honest ZIP entry (sizes and CRC true) whose data inflates ~1,000x, assembled around the
    cached payload: the same bytes `zipfile` would write, without deflating 64 MiB per file."""
    payload, crc = _bomb_payload()
    name = f"{_stem(spec)}.csv".encode()
    year, month, day, hour, minute, second = _zip_time(spec)
    dos_time = hour << 11 | minute << 5 | second // 2
    dos_date = (year - 1980) << 9 | month << 5 | day
    common = struct.pack("<HHHHHIII", 20, 0, zipfile.ZIP_DEFLATED, dos_time, dos_date, crc, len(payload),
                         BOMB_MEMBER_BYTES)
    local = b"PK\x03\x04" + common + struct.pack("<HH", len(name), 0) + name
    central = (b"PK\x01\x02" + struct.pack("<H", 20) + common
               + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0o644 << 16, 0) + name)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local) + len(payload), 0)
    return BytesContent(local + payload + central + end)


FORMATS = (
    ContentFormat("wrapped-zip-csv", "zip", "application/zip", zip_one,
                  description="ZIP of one CMS CSV", tags=("zip",), family="zip",
                  extensions=("zip", "csv.zip"), wraps="csv", default_inner="cms-csv-3.0-tall"),
    ContentFormat("wrapped-zip-json", "zip", "application/zip", zip_one,
                  description="ZIP of one CMS JSON", tags=("zip",), family="zip",
                  extensions=("zip", "json.zip"), wraps="json", default_inner="cms-json-3.0"),
    ContentFormat("wrapped-zip-bundle", "zip", "application/zip", zip_bundle,
                  description="ZIP of a tall and a wide CMS CSV, a README and macOS metadata", tags=("zip",),
                  family="zip", wraps="csv", default_inner="cms-csv-3.0-tall"),
    ContentFormat("wrapped-zip-as-csv", "csv", CSV_MEDIA_TYPE, zip_one,
                  description="ZIP of one CMS CSV behind a .csv name", tags=("zip", "suffix-lies"), family="zip",
                  wraps="csv", default_inner="cms-csv-3.0-tall"),
    ContentFormat("wrapped-gzip-csv", "gz", "application/gzip", gzip_one,
                  description="gzip of one CMS CSV", tags=("gzip",), family="gzip",
                  extensions=("csv.gz",), wraps="csv", default_inner="cms-csv-3.0-tall"),
    ContentFormat("wrapped-gzip-json", "gz", "application/gzip", gzip_one,
                  description="gzip of one CMS JSON", tags=("gzip",), family="gzip",
                  extensions=("json.gz",), wraps="json", default_inner="cms-json-3.0"),
    ContentFormat("hostile-html-page", "csv", "text/html; charset=utf-8", html_page,
                  description="an HTML 'page moved' page served with status 200", tags=("error-page",),
                  family="failure"),
    ContentFormat("hostile-empty", "csv", CSV_MEDIA_TYPE, empty, description="an empty body", tags=("empty",),
                  family="failure"),
    ContentFormat("hostile-zip-slip", "zip", "application/zip", zip_slip,
                  description="a ZIP whose member name climbs out with ../", tags=("zip", "hostile"),
                  family="failure", wraps="csv", default_inner="cms-csv-3.0-tall"),
    ContentFormat("hostile-zip-bomb", "zip", "application/zip", zip_bomb,
                  description="a ZIP whose member inflates about 1,000x", tags=("zip", "hostile"), family="failure"),
)

for _format in FORMATS:
    register_format(_format)


def use_format(world: Any, fileid: str, format_name: str) -> None:
    """Serve `format_name` as file `fileid`'s current version, from the next request on."""
    world.replace_current_format(fileid, format_name)
