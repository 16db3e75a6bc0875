"""Identifying content by its first bytes, whatever its name says."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest
import xlsxwriter

from glimmr_dagster.lib.acquire.sniff import Kind, describe_body, detect_kind, is_xlsx_package


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer)
    workbook.add_worksheet().write(0, 0, "description")
    workbook.close()
    return buffer.getvalue()


def _zip(name: str = "prices.csv") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, "a,b\n1,2\n")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "body, kind",
    [
        (b"", Kind.EMPTY),
        (b"  \r\n\t ", Kind.EMPTY),
        (b"\xef\xbb\xbf", Kind.EMPTY),
        (_xlsx(), Kind.XLSX),
        (_zip(), Kind.ZIP),
        (gzip.compress(b"a,b\n", mtime=0), Kind.GZIP),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, Kind.XLS),
        (b'{"hospital_name": "X"}', Kind.JSON),
        (b"\xef\xbb\xbf\r\n  [1, 2]", Kind.JSON),
        ("\ufeff{}".encode("utf-16-le"), Kind.JSON),
        (b"<!DOCTYPE html><html>", Kind.HTML),
        (b"\n\n  <html><body>Access denied</body></html>", Kind.HTML),
        (b"hospital_name,last_updated_on,version\nX,2026-01-01,3.0.0\n", Kind.CSV),
        (b"\xef\xbb\xbfdescription|code|gross\n", Kind.CSV),
        (b"description\tcode\tgross\r\ncaf\xe9\t1\t$1,234.50\r\n", Kind.CSV),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00", Kind.UNKNOWN),
        (b"\x89PNG\r\n\x1a\n\x00\x00", Kind.UNKNOWN),
    ],
    # Ids by position: the same in every test worker, whatever the bytes.
    ids=lambda value: value.value if isinstance(value, Kind) else "",
)
def test_detect_kind(body, kind):
    assert detect_kind(body) is kind


def test_an_xlsx_whose_first_part_is_not_a_marker_is_still_recognised_from_its_member_list():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("docProps/app.xml", "<x/>" * 10)
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert is_xlsx_package(zipfile.ZipFile(buffer).namelist())
    assert not is_xlsx_package(["prices.csv", "xl_notes.txt"])


def test_kinds_name_their_stored_suffix_and_role():
    assert Kind.GZIP.value == "gzip" and Kind.GZIP.is_archive and Kind.ZIP.is_archive
    assert Kind.CSV.is_price_data and Kind.XLSX.is_price_data and not Kind.HTML.is_price_data


def test_describe_body_names_what_was_received():
    assert describe_body(b"") == "an empty body"
    assert "titled 'Page Moved'" in describe_body(b"<html><head><title>Page\n Moved</title></head>")
    assert describe_body(b"%PDF-1.7\x00").startswith("binary content starting")
    assert describe_body(b"a,b\n").startswith("csv content")
