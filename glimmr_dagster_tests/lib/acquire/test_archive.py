"""Unpacking ZIP and gzip wrappers, with guards against hostile archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zipfile

import pytest
import xlsxwriter

from glimmr_dagster.lib.acquire import ArchiveError, ArchiveLimits, Kind, unpack

CSV_A = b"hospital_name,last_updated_on,version\nA Hospital,2026-01-01,3.0.0\n" + b"MRI,70551,1200\n" * 500
CSV_B = b"hospital_name,last_updated_on,version\nB Hospital,2026-01-01,3.0.0\n" + b"CT,74150,800\n" * 500
JSON_C = b'{"hospital_name": "C", "standard_charge_information": []}'


def make_zip(members: list[tuple[str, bytes]], *, when=(2026, 1, 2, 3, 4, 5), method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=when), data, compress_type=method)
    return buffer.getvalue()


def store_raw(store, data: bytes, kind: Kind):
    with store.open_writer() as writer:
        writer.write(data)
        return writer.commit(kind)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_price_file_in_a_zip_is_kept_and_the_rest_listed(local_store):
    archive = make_zip([
        ("mrf/", b""),
        ("mrf/a_standardcharges.csv", CSV_A),
        ("mrf/b_standardcharges.txt", CSV_B),  # pipe/comma text under .txt is still price data
        ("mrf/c_standardcharges.json", JSON_C),
        ("README.txt", b"How to read these files."),
        ("LICENSE", b"public domain"),
        ("__MACOSX/mrf/._a_standardcharges.csv", b"\x00\x05\x16\x07"),
        (".DS_Store", b"\x00\x00\x00\x01Bud1"),
        ("instructions.pdf", b"%PDF-1.4"),
        ("mrf/error.csv", b"<html><body>Session expired</body></html>"),
        ("mrf/blank.csv", b""),
    ])
    raw = store_raw(local_store, archive, Kind.ZIP)
    result = unpack(local_store, raw, name="prices.zip")
    kept = {f.archive_path[-1]: f for f in result.price_files}
    assert set(kept) == {"mrf/a_standardcharges.csv", "mrf/b_standardcharges.txt", "mrf/c_standardcharges.json"}
    assert kept["mrf/a_standardcharges.csv"].sha256 == sha(CSV_A) and kept["mrf/a_standardcharges.csv"].kind is Kind.CSV
    json_file = kept["mrf/c_standardcharges.json"]
    assert json_file.kind is Kind.JSON and json_file.size == len(JSON_C)
    assert kept["mrf/a_standardcharges.csv"].name == "a_standardcharges.csv"
    for price_file in result.price_files:
        assert local_store.exists(price_file.sha256, price_file.kind)  # stored by its own hash
    reasons = {m.name: m.reason for m in result.skipped}
    assert reasons["README.txt"] == "a read-me or licence file"
    assert reasons["LICENSE"] == "a read-me or licence file"
    assert reasons["__MACOSX/mrf/._a_standardcharges.csv"] == "macOS metadata"
    assert reasons[".DS_Store"] == "macOS metadata"
    assert "document" in reasons["instructions.pdf"]
    assert "HTML page" in reasons["mrf/error.csv"] and "empty" in reasons["mrf/blank.csv"]
    assert "mrf/" in result.member_names and len(result.member_names) == 11


def test_rezipping_the_same_files_yields_the_same_member_hashes(local_store):
    first = make_zip([("a.csv", CSV_A), ("b.csv", CSV_B)], when=(2026, 1, 1, 0, 0, 0))
    second = make_zip([("b.csv", CSV_B), ("a.csv", CSV_A)], when=(2026, 3, 9, 12, 30, 0), method=zipfile.ZIP_STORED)
    assert sha(first) != sha(second)
    hashes = []
    for archive in (first, second):
        result = unpack(local_store, store_raw(local_store, archive, Kind.ZIP), name="x.zip")
        hashes.append(sorted(f.sha256 for f in result.price_files))
    assert hashes[0] == hashes[1] == sorted([sha(CSV_A), sha(CSV_B)])


def test_a_plain_file_is_its_own_price_file(local_store):
    raw = store_raw(local_store, CSV_A, Kind.CSV)
    result = unpack(local_store, raw, name="a.csv")
    assert [(f.name, f.sha256, f.archive_path) for f in result.price_files] == [("a.csv", sha(CSV_A), ())]


def test_gzip_member_takes_the_name_in_its_header(local_store):
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="inner_standardcharges.csv", mode="wb", fileobj=buffer, mtime=0) as out:
        out.write(CSV_A)
    result = unpack(local_store, store_raw(local_store, buffer.getvalue(), Kind.GZIP), name="download.gz")
    [price_file] = result.price_files
    assert (price_file.name, price_file.sha256, price_file.kind) == ("inner_standardcharges.csv", sha(CSV_A), Kind.CSV)
    # Without a name in the header, the outer name minus .gz.
    bare = gzip.compress(CSV_B, mtime=0)
    [price_file] = unpack(local_store, store_raw(local_store, bare, Kind.GZIP), name="b.csv.gz").price_files
    assert price_file.name == "b.csv"


def test_nested_archives_unpack_up_to_the_depth_limit(local_store):
    inner = make_zip([("a.csv", CSV_A)])
    outer = make_zip([("inner.zip", inner), ("b.csv", CSV_B)])
    wrapped = gzip.compress(outer, mtime=0)
    result = unpack(local_store, store_raw(local_store, wrapped, Kind.GZIP), name="all.zip.gz")
    assert sorted(f.archive_path for f in result.price_files) == [
        ("all.zip", "b.csv"), ("all.zip", "inner.zip", "a.csv")]
    with pytest.raises(ArchiveError, match="nested 3 archives deep; at most 2"):
        unpack(local_store, store_raw(local_store, wrapped, Kind.GZIP), name="all.zip.gz",
               limits=ArchiveLimits(max_depth=2))


def test_an_xlsx_inside_a_zip_is_a_price_file_not_an_archive(local_store):
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer)
    workbook.add_worksheet().write(0, 0, "description")
    workbook.close()
    result = unpack(local_store, store_raw(local_store, make_zip([("prices.xlsx", buffer.getvalue())]), Kind.ZIP),
                    name="p.zip")
    assert [(f.name, f.kind) for f in result.price_files] == [("prices.xlsx", Kind.XLSX)]


def test_a_workbook_that_looked_like_a_plain_zip_is_stored_as_xlsx(local_store):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("docProps/app.xml", os.urandom(80_000))  # pushes the markers past the sniffed bytes
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    data = buffer.getvalue()
    raw = store_raw(local_store, data, Kind.ZIP)
    [price_file] = unpack(local_store, raw, name="prices.zip").price_files
    assert (price_file.kind, price_file.sha256) == (Kind.XLSX, sha(data))
    assert local_store.exists(price_file.sha256, Kind.XLSX)


def test_identical_members_are_kept_once(local_store):
    result = unpack(local_store, store_raw(local_store, make_zip([("a.csv", CSV_A), ("copy/a.csv", CSV_A)]), Kind.ZIP),
                    name="x.zip")
    assert len(result.price_files) == 1
    assert result.skipped[0].reason == "the same bytes as 'a.csv'"


@pytest.mark.parametrize("name", ["../../etc/cron.d/evil.csv", "/etc/passwd", "C:/Windows/evil.csv",
                                  "ok/../../evil.csv", "..\\..\\evil.csv"])
def test_zip_slip_is_refused(local_store, name):
    raw = store_raw(local_store, make_zip([("fine.csv", CSV_A), (name, CSV_B)]), Kind.ZIP)
    with pytest.raises(ArchiveError, match="the archive is refused") as refused:
        unpack(local_store, raw, name="evil.zip")
    assert "evil.zip" in str(refused.value)
    assert not local_store.exists(sha(CSV_A), Kind.CSV)  # refused before anything was inflated


def test_zip_bomb_is_refused_from_its_declared_sizes(local_store):
    bomb = make_zip([("prices.csv", b"0" * (64 * 1024 * 1024))])
    assert len(bomb) < 100_000
    raw = store_raw(local_store, bomb, Kind.ZIP)
    with pytest.raises(ArchiveError, match=r"inflates [\d,]+x .* more than the limit of 250x \(zip bomb\?\)"):
        unpack(local_store, raw, name="bomb.zip")
    with pytest.raises(ArchiveError, match="would inflate to 67,108,864 bytes, more than the limit"):
        unpack(local_store, raw, name="bomb.zip", limits=ArchiveLimits(max_member_bytes=10 * 1024 * 1024))
    with pytest.raises(ArchiveError, match="in all"):
        unpack(local_store, raw, name="bomb.zip", limits=ArchiveLimits(max_total_bytes=1024 * 1024, max_ratio=1e9))


def test_a_bomb_that_lies_about_its_size_is_caught_while_inflating(local_store):
    bomb = gzip.compress(b"0" * (40 * 1024 * 1024), mtime=0)  # gzip declares nothing trustworthy
    raw = store_raw(local_store, bomb, Kind.GZIP)
    with pytest.raises(ArchiveError, match=r"inflates more than 250x"):
        unpack(local_store, raw, name="bomb.gz")
    assert local_store.partial_files() == []


def test_too_many_members_is_refused(local_store):
    archive = make_zip([(f"f{i}.csv", b"a,b\n%d,1\n" % i) for i in range(30)])
    with pytest.raises(ArchiveError, match="30 members, more than the limit of 20"):
        unpack(local_store, store_raw(local_store, archive, Kind.ZIP), name="many.zip",
               limits=ArchiveLimits(max_members=20))


def test_an_archive_without_price_files_fails_with_what_it_held(local_store):
    archive = make_zip([("README.md", b"# nothing"), ("page.csv", b"<html>gone</html>")])
    with pytest.raises(ArchiveError, match=r"holds no price file \(found: README.md"):
        unpack(local_store, store_raw(local_store, archive, Kind.ZIP), name="empty.zip")


def test_a_damaged_archive_fails_clearly(local_store):
    with pytest.raises(ArchiveError, match="not a readable ZIP"):
        unpack(local_store, store_raw(local_store, b"PK\x03\x04 broken beyond repair", Kind.ZIP), name="bad.zip")
    with pytest.raises(ArchiveError, match="not a readable gzip"):
        unpack(local_store, store_raw(local_store, b"\x1f\x8b\x08\x00garbage", Kind.GZIP), name="bad.gz")


def test_unpacking_from_s3_reads_the_archive_with_ranged_requests(s3_store):
    archive = make_zip([("a.csv", CSV_A), ("b.csv", CSV_B)])
    result = unpack(s3_store, store_raw(s3_store, archive, Kind.ZIP), name="x.zip")
    assert sorted(f.sha256 for f in result.price_files) == sorted([sha(CSV_A), sha(CSV_B)])
    assert all(s3_store.exists(f.sha256, f.kind) for f in result.price_files)
