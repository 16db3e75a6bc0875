"""Generated file contents follow the CMS layout and rules; large files are exact and seekable."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from glimmr_dagster.sandbox import ContentFormat, SandboxWorld, format_names, register_format
from glimmr_dagster.sandbox.content import BytesContent, ContentSpec, HospitalHeader, build_content, content_etag

from .cms_checker import check_cms_csv
from .format_checks import check_served

PLAIN_CSV = ("cms-csv-2.2-tall", "cms-csv-2.2-wide", "cms-csv-3.0-tall", "cms-csv-3.0-wide")

HOSPITAL = HospitalHeader(
    hospital_name="Lakeside General Hospital",
    location_names=("Lakeside General Hospital", "Lakeside Surgical Center"),
    addresses=("12 Main Street, Austin, TX 78701", "40 Oak Ave, Austin, TX 78702"),
    state="TX",
    license_number="",
    type_2_npis=("1234567890", "1987654321"),
    attester_name="Maria Gonzalez",
)


def spec(format_name: str, *, version: int = 1, rows: int = 120, size: int | None = None,
         fileid: str = "a1b2c3") -> ContentSpec:
    return ContentSpec(format_name, 42, fileid, version, 1767312000.0 + version * 86400, HOSPITAL, rows=rows,
                       target_size=size)


def test_registry_lists_the_cms_formats() -> None:
    assert {"cms-csv-2.2-tall", "cms-csv-2.2-wide", "cms-csv-3.0-tall", "cms-csv-3.0-wide"} <= set(
        format_names(streaming=False))
    assert {"cms-csv-2.2-tall-large", "cms-csv-3.0-tall-large"} <= set(format_names(streaming=True))
    with pytest.raises(ValueError):
        register_format(ContentFormat("cms-csv-3.0-tall", "csv", "text/csv", lambda s: BytesContent(b"")))


def test_a_new_format_plugs_in_without_touching_the_server() -> None:
    register_format(ContentFormat("test-plain-text", "txt", "text/plain",
                                  lambda s: BytesContent(f"{s.fileid} v{s.version}\n".encode())))
    assert build_content(spec("test-plain-text", version=3)).read_all() == b"a1b2c3 v3\n"


@pytest.mark.parametrize("format_name, version, layout", [
    ("cms-csv-2.2-tall", "2.0.0", "tall"),
    ("cms-csv-2.2-wide", "2.0.0", "wide"),
    ("cms-csv-3.0-tall", "3.0.0", "tall"),
    ("cms-csv-3.0-wide", "3.0.0", "wide"),
])
def test_each_format_follows_the_cms_rules(format_name: str, version: str, layout: str) -> None:
    for fileid in ("f1", "f2", "f3", "f4", "f5", "f6"):
        result = check_cms_csv(build_content(spec(format_name, fileid=fileid)).read_all())
        assert result.errors == []
        assert (result.version, result.layout) == (version, layout)
        assert result.hospital_name == "Lakeside General Hospital"
        assert 25 <= result.data_rows <= 350
        if layout == "wide":
            assert 2 <= len(result.pairs) <= 4


def test_every_file_of_several_worlds_is_what_its_format_claims() -> None:
    kinds: Counter[tuple[str, str]] = Counter()
    families: Counter[str] = Counter()
    modifier_rows = 0
    for seed in (3, 4):
        world = SandboxWorld(seed=seed)
        for hosted in world.files.values():
            spec = hosted.current.spec
            data = world.store.content(spec).read_all()
            assert check_served(spec.format_name, data, spec.inner_format) == [], (hosted.fileid, spec.format_name)
            families[hosted.family] += 1
            if spec.format_name in PLAIN_CSV:
                result = check_cms_csv(data)
                kinds[(result.version, result.layout)] += 1
                modifier_rows += result.modifier_rows
    assert set(kinds) == {("2.0.0", "tall"), ("2.0.0", "wide"), ("3.0.0", "tall"), ("3.0.0", "wide")}
    assert set(families) == {"csv-tall", "csv-wide", "json", "xlsx", "zip", "gzip"}
    assert modifier_rows > 0


def test_items_cover_the_code_types_and_rate_kinds_parsers_meet() -> None:
    text = b"".join(build_content(spec("cms-csv-3.0-tall", fileid=f"x{n}", rows=300)).read_all()
                    for n in range(4)).decode("utf-8-sig")
    for code_type in (",CPT,", ",HCPCS,", ",MS-DRG,", ",RC,", ",NDC,"):
        assert code_type in text
    for methodology in ("fee schedule", "case rate", "percent of total billed charges", "per diem", ",other,"):
        assert methodology in text
    assert "1 through 10" in text


def test_contents_are_deterministic_per_version() -> None:
    first = build_content(spec("cms-csv-3.0-wide")).read_all()
    assert build_content(spec("cms-csv-3.0-wide")).read_all() == first
    second = build_content(spec("cms-csv-3.0-wide", version=2)).read_all()
    assert second != first and len(second) != len(first)
    assert content_etag(spec("cms-csv-3.0-wide")) != content_etag(spec("cms-csv-3.0-wide", version=2))
    assert check_cms_csv(second).errors == []


@pytest.mark.parametrize("size", [300_000, 3 * 1024 * 1024 + 17, 6_000_001])
@pytest.mark.parametrize("format_name", ["cms-csv-3.0-tall-large", "cms-csv-2.2-tall-large"])
def test_large_file_has_the_exact_size_and_valid_rows(size: int, format_name: str) -> None:
    content = build_content(spec(format_name, size=size))
    data = content.read_all()
    assert content.size == len(data) == size
    assert data.endswith(b"\n")
    result = check_cms_csv(data)
    assert result.errors == []
    assert result.layout == "tall"
    # Rows stay distinct across repeated blocks: every (item line, chargemaster number) is unique.
    lines = data.split(b"\n")[3:-1]
    assert len(set(lines)) == len(lines)


def test_large_file_ranges_match_the_whole() -> None:
    content = build_content(spec("cms-csv-3.0-tall-large", size=5_000_000))
    data = content.read_all()
    rng = random.Random(5)
    for _ in range(300):
        start = rng.randrange(len(data))
        end = min(len(data), start + rng.choice((1, 7, 4096, 1 << 20, 3_000_000)))
        assert b"".join(bytes(chunk) for chunk in content.iter_range(start, end)) == data[start:end]


def test_large_file_of_several_gigabytes_is_cheap_to_describe() -> None:
    size = 5 * 1024 ** 3 + 12345
    content = build_content(spec("cms-csv-3.0-tall-large", size=size))
    assert content.size == size
    tail = b"".join(bytes(chunk) for chunk in content.iter_range(size - 5000, size))
    assert len(tail) == 5000 and tail.endswith(b"\n")
    middle = b"".join(bytes(chunk) for chunk in content.iter_range(size // 2, size // 2 + 2_000_000))
    assert len(middle) == 2_000_000


def test_large_file_refuses_an_impossible_size() -> None:
    with pytest.raises(ValueError):
        build_content(spec("cms-csv-3.0-tall-large", size=100))
