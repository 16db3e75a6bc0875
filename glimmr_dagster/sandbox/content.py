"""File contents the sandbox serves, behind a small registry of formats.

A file version is described by a `ContentSpec` (which format, which hospital, which version).
Its bytes are a pure function of the spec, so nothing is stored: the server builds a `Content`
when a file is requested and keeps recent ones in a bounded cache.

Two kinds of format exist:
- rendered formats produce the whole file as bytes (ordinary price files, tens of KB);
- streaming formats know their exact size up front and produce any byte range on demand, so a
  multi-GB file is served without ever being held in memory.

Every format belongs to a family (`csv-tall`, `csv-wide`, `json`, `xlsx`, `zip`, `gzip`,
`failure`) that says what a client must do with its bytes. Wrappers (`zip`, `gzip`) carry
another format inside, named by `ContentSpec.inner_format`. New formats (legacy sheets, ...)
register here with `register_format` and need no change to the world or the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from .seeding import stable_hex


@dataclass(frozen=True)
class HospitalHeader:
    """What a file's general-data rows say about the hospital (or health system) publishing it."""

    hospital_name: str
    location_names: tuple[str, ...]
    addresses: tuple[str, ...]
    state: str
    license_number: str
    type_2_npis: tuple[str, ...]
    attester_name: str


@dataclass(frozen=True)
class ContentSpec:
    """Everything a format needs to produce one version of one file."""

    format_name: str
    seed: int
    fileid: str
    version: int
    # Epoch seconds when this version was published; the file's `last_updated_on` derives from it.
    published_at: float
    hospital: HospitalHeader
    # Target number of data rows (rendered formats).
    rows: int = 100
    # Exact size in bytes (streaming formats).
    target_size: int | None = None
    # What a wrapper (ZIP, gzip) carries inside; empty for every other format, and for a wrapper
    # it means the wrapper's default.
    inner_format: str = ""

    @property
    def published_date(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.published_at, dt.timezone.utc).date()


class Content:
    """The bytes of one file version: an exact size and any byte range on demand."""

    size: int

    def iter_range(self, start: int, end: int) -> Iterator[bytes | memoryview]:
        """Yield the bytes in [start, end) in large chunks."""
        raise NotImplementedError

    def read_all(self) -> bytes:
        return b"".join(bytes(chunk) for chunk in self.iter_range(0, self.size))


class BytesContent(Content):
    def __init__(self, data: bytes):
        self.data = data
        self.size = len(data)

    def iter_range(self, start: int, end: int) -> Iterator[bytes | memoryview]:
        if start < end:
            yield memoryview(self.data)[start:end]

    def read_all(self) -> bytes:
        return self.data


class BlockedContent(Content):
    """A large file of an exact size: a header, a fixed-length block repeated, then a tail.

    Each block's records carry the block number (BLOCK_DIGITS digits) in place of a placeholder,
    so they stay distinct across the file, and the block holding any byte offset is one division
    away, which is what makes Range requests cheap. Subclasses set `header`, `body_start`,
    `tail_start`, `block_length`, `full_blocks`, `tail`, `_templates` (one record each, with the
    placeholder) and define `block` and `_filler` (a record whose notes pad the tail).
    """

    BLOCK_TARGET_BYTES = 1 << 20
    BLOCK_DIGITS = 8
    PLACEHOLDER: str
    FILLER_TEXT: str

    header: bytes
    body_start: int
    tail_start: int
    block_length: int
    full_blocks: int
    tail: bytes
    _templates: list[bytes]

    def block(self, block_number: int) -> bytes:
        raise NotImplementedError

    def _filler(self, block_number: int, notes: str) -> bytes:
        raise NotImplementedError

    def _digits(self, block_number: int) -> bytes:
        return b"%0*d" % (self.BLOCK_DIGITS, block_number)

    def _build_tail(self, length: int, filler_min: int) -> bytes:
        """`length` bytes after the last whole block: ordinary records, then the filler."""
        if length == 0:
            return b""
        digits = self._digits(self.full_blocks)
        placeholder = self.PLACEHOLDER.encode()
        parts: list[bytes] = []
        remaining = length
        for template in self._templates:
            record = template.replace(placeholder, digits)
            if remaining - len(record) < filler_min:
                break
            parts.append(record)
            remaining -= len(record)
        pad_length = remaining - (filler_min - 1)
        padding = (self.FILLER_TEXT * (pad_length // len(self.FILLER_TEXT) + 1))[:pad_length]
        parts.append(self._filler(self.full_blocks, padding))
        tail = b"".join(parts)
        assert len(tail) == length, (len(tail), length)
        return tail

    def iter_range(self, start: int, end: int) -> Iterator[bytes | memoryview]:
        position = max(start, 0)
        end = min(end, self.size)
        while position < end:
            if position < self.body_start:
                chunk: bytes | memoryview = memoryview(self.header)[position:min(end, self.body_start)]
            elif position < self.tail_start:
                block_number, offset = divmod(position - self.body_start, self.block_length)
                take = min(self.block_length - offset, end - position)
                chunk = memoryview(self.block(block_number))[offset:offset + take]
            else:
                offset = position - self.tail_start
                chunk = memoryview(self.tail)[offset:offset + (end - position)]
            yield chunk
            position += len(chunk)


FAMILIES = ("csv-tall", "csv-wide", "json", "xlsx", "zip", "gzip", "failure")


@dataclass(frozen=True)
class ContentFormat:
    name: str
    # The index's `filesuffix` for a file of this format (the last part of its name).
    suffix: str
    media_type: str
    build: Callable[[ContentSpec], Content]
    # Streaming formats take their size from `ContentSpec.target_size` and never render in full.
    streaming: bool = False
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    # One of FAMILIES ("" for ad-hoc formats): what a client has to do with the bytes.
    family: str = ""
    # CMS template version ("2.2", "3.0") and layout ("tall", "wide") of CMS formats.
    cms_version: str = ""
    layout: str = ""
    # File name endings that fit the content, the usual one first ("csv.gz", "zip" or "csv.zip").
    extensions: tuple[str, ...] = ()
    # For wrappers: what they carry ("csv" or "json"), and the inner format when the spec names none.
    wraps: str = ""
    default_inner: str = ""

    @property
    def extension(self) -> str:
        return self.extensions[0] if self.extensions else self.suffix

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "family": self.family,
            "suffix": self.suffix,
            "extension": self.extension,
            "media_type": self.media_type,
            "cms_version": self.cms_version,
            "layout": self.layout,
            "wraps": self.wraps,
            "streaming": self.streaming,
            "description": self.description,
            "tags": list(self.tags),
        }


_FORMATS: dict[str, ContentFormat] = {}


def register_format(content_format: ContentFormat) -> ContentFormat:
    if content_format.name in _FORMATS:
        raise ValueError(f"content format {content_format.name!r} is already registered")
    _FORMATS[content_format.name] = content_format
    return content_format


def get_format(name: str) -> ContentFormat:
    try:
        return _FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown content format {name!r}; known: {', '.join(sorted(_FORMATS))}") from None


def format_names(*, streaming: bool | None = None) -> list[str]:
    return sorted(name for name, fmt in _FORMATS.items() if streaming is None or fmt.streaming == streaming)


def describe_formats() -> list[dict[str, object]]:
    """Every registered format, for `GET /_sandbox/formats`."""
    return [_FORMATS[name].describe() for name in sorted(_FORMATS)]


def build_content(spec: ContentSpec) -> Content:
    return get_format(spec.format_name).build(spec)


def inner_spec(spec: ContentSpec) -> ContentSpec:
    """The spec of what a wrapper carries: its inner format (or the wrapper's default)."""
    wrapper = get_format(spec.format_name)
    return replace(spec, format_name=spec.inner_format or wrapper.default_inner, inner_format="")


def content_etag(spec: ContentSpec) -> str:
    """A strong ETag for the spec's bytes.

    The bytes are a pure function of the spec, so hashing the spec identifies them as well as
    hashing the bytes would, and costs nothing for a multi-GB file.
    """
    parts: tuple[object, ...] = (spec.format_name, spec.seed, spec.fileid, spec.version, spec.target_size, spec.rows)
    if spec.inner_format:
        # Only wrappers name one; leaving it out otherwise keeps earlier ETags unchanged.
        parts += (spec.inner_format,)
    tag = stable_hex(24, "etag", *parts)
    return f'"{tag}"'


# The built-in formats register themselves on import.
from . import cms_csv as _cms_csv  # noqa: E402,F401
from . import cms_json as _cms_json  # noqa: E402,F401
from . import cms_xlsx as _cms_xlsx  # noqa: E402,F401
from . import wrapped_formats as _wrapped_formats  # noqa: E402,F401
