"""Unpacking ZIP and gzip wrappers into the price files they hold.

Every member that is a price file is stored content-addressed under its own hash, so a hospital
that re-zips the same CSV (new timestamps, new archive bytes) publishes no new price file.

Guards, each failing the whole archive with `ArchiveError`:
- path traversal: absolute names, `..` components, drive letters (a zip-slip archive is hostile
  even though members are never written under their own names here);
- zip bombs: too many members, a member or a total beyond the size limits, or a compression
  ratio beyond the limit, judged from the declared sizes before anything is inflated and again
  from the bytes actually produced (declared sizes can lie);
- archives nested deeper than `max_depth`.

Members that are not price files are listed but skipped, with the reason: directories, macOS
metadata (`__MACOSX/`, `._*`, `.DS_Store`), read-me and licence files, documents by suffix
(`.pdf`, `.doc(x)`, `.rtf`, `.md`, `.htm(l)`, images), and members whose bytes are an HTML page,
empty or an unknown binary format. A `.txt` member is kept when its bytes are delimited text:
some hospitals publish pipe- or tab-delimited `.txt` price files.
"""

from __future__ import annotations

import gzip
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from .sniff import SNIFF_BYTES, Kind, detect_kind, describe_body, is_xlsx_package
from .storage import RawStore, StoredObject

GiB = 1024**3
MiB = 1024**2
COPY_CHUNK = MiB


class ArchiveError(ValueError):
    """An archive that is refused or unreadable; the message names the archive and the reason."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 10_000
    max_member_bytes: int = 50 * GiB
    max_total_bytes: int = 100 * GiB
    # Price CSVs deflate 10-50x; a zip bomb approaches deflate's ceiling of about 1,000x.
    max_ratio: float = 250.0
    # Tiny members (a repetitive few-KB CSV) may compress beyond the ratio harmlessly.
    ratio_applies_above_bytes: int = 16 * MiB
    # Archive layers unpacked in all: a gzip of a ZIP of ZIPs is three.
    max_depth: int = 3


@dataclass(frozen=True)
class PriceFile:
    """A price file to parse: the raw object itself, or one member unpacked from it."""

    name: str
    sha256: str
    kind: Kind
    size: int
    # Member names from the outermost archive inward; () when this is the downloaded object.
    archive_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkippedMember:
    name: str
    reason: str
    size: int = 0


@dataclass
class Unpacked:
    price_files: list[PriceFile] = field(default_factory=list)
    skipped: list[SkippedMember] = field(default_factory=list)
    # Every member name seen, nested ones as `outer.zip/inner.csv`, in archive order.
    member_names: list[str] = field(default_factory=list)
    # Bytes written to the store while unpacking (members new to it).
    bytes_unpacked: int = 0


_DOCUMENT_SUFFIXES = {
    ".pdf", ".doc", ".docx", ".rtf", ".md", ".htm", ".html", ".png", ".jpg", ".jpeg", ".gif",
    ".ppt", ".pptx", ".exe", ".dll", ".bat", ".sh", ".js", ".css",
}
_INFO_NAMES = re.compile(r"^(readme|read_me|read-me|license|licence|notice|changelog|copying)(\.|$)", re.IGNORECASE)
_DRIVE = re.compile(r"^[a-zA-Z]:")


def unsafe_member_name(name: str) -> str | None:
    """Why an archive member name is a traversal attempt, or None if it is harmless."""
    unified = name.replace("\\", "/")
    if unified.startswith("/") or _DRIVE.match(unified):
        return "is an absolute path"
    if ".." in unified.split("/"):
        return "climbs out of the archive with '..'"
    if "\x00" in name:
        return "contains a NUL byte"
    return None


def skip_reason_for_name(name: str) -> str | None:
    """Why a member is not a price file, judged by its name alone; None to look at its bytes."""
    unified = name.replace("\\", "/")
    base = posixpath.basename(unified)
    if unified.endswith("/"):
        return "a directory"
    if unified.startswith("__MACOSX/") or "/__MACOSX/" in unified or base.startswith("._") or base == ".DS_Store":
        return "macOS metadata"
    if base.startswith(".") or base.lower() in ("thumbs.db", "desktop.ini"):
        return "a hidden or system file"
    if _INFO_NAMES.match(base):
        return "a read-me or licence file"
    suffix = posixpath.splitext(base)[1].lower()
    if suffix in _DOCUMENT_SUFFIXES:
        return f"a {suffix} document, not price data"
    return None


def gzip_original_name(first_bytes: bytes) -> str | None:
    """The file name a gzip header carries (FNAME), if any."""
    if len(first_bytes) < 10 or not first_bytes.startswith(b"\x1f\x8b"):
        return None
    flags = first_bytes[3]
    position = 10
    if flags & 0x04:  # FEXTRA
        if len(first_bytes) < 12:
            return None
        position += 2 + int.from_bytes(first_bytes[10:12], "little")
    if not flags & 0x08:  # FNAME
        return None
    end = first_bytes.find(b"\x00", position)
    if end < 0:
        return None
    name = first_bytes[position:end].decode("latin-1").replace("\\", "/")
    return posixpath.basename(name) or None


def _strip_gzip_suffix(name: str) -> str:
    lowered = name.lower()
    for suffix in (".gz", ".gzip"):
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    if lowered.endswith(".tgz"):
        return name[:-4] + ".tar"
    return name + ".unpacked"


class _Unpacker:
    def __init__(self, store: RawStore, limits: ArchiveLimits, label: str):
        self.store = store
        self.limits = limits
        self.label = label  # names the downloaded file in every message
        self.result = Unpacked()
        self.total_bytes = 0
        self.members_seen = 0
        self._seen_sha: dict[str, str] = {}

    def fail(self, message: str) -> ArchiveError:
        return ArchiveError(f"{self.label}: {message}")

    # -- one archive ------------------------------------------------------------------------

    def unpack(self, obj: StoredObject, path: tuple[str, ...], depth: int) -> None:
        if depth > self.limits.max_depth:
            raise self.fail(
                f"archive {'/'.join(path)!r} is nested {depth} archives deep; at most "
                f"{self.limits.max_depth} layers are unpacked"
            )
        with self.store.open_reader(obj.sha256, obj.kind) as reader:
            if obj.kind is Kind.ZIP:
                self._unpack_zip(reader, obj, path, depth)
            elif obj.kind is Kind.GZIP:
                self._unpack_gzip(reader, obj, path, depth)
            else:  # pragma: no cover - callers only pass archives
                raise self.fail(f"{obj.kind} is not an archive")

    def _unpack_zip(self, reader: BinaryIO, obj: StoredObject, path: tuple[str, ...], depth: int) -> None:
        where = "/".join(path) or "the archive"
        try:
            archive = zipfile.ZipFile(reader)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise self.fail(f"{where} is not a readable ZIP archive ({exc})") from None
        with archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if is_xlsx_package(names):
                # A workbook whose first bytes did not give it away: it is the price file, and
                # is stored again under the suffix its readers look for.
                reader.seek(0)
                stored = self._store_copy(reader, Kind.XLSX)
                self._keep(PriceFile(path[-1] if path else self.label, stored.sha256, Kind.XLSX, stored.size, path))
                return
            # Every name and size is judged before anything is inflated, so a refused archive
            # leaves nothing behind.
            self._check_declared(infos, obj.size, where)
            for info in infos:
                member_path = path + (info.filename,)
                self.result.member_names.append("/".join(member_path))
                if info.is_dir():
                    continue
                self.members_seen += 1
                if self.members_seen > self.limits.max_members:
                    raise self.fail(f"more than {self.limits.max_members} members; the archive is refused")
                reason = skip_reason_for_name(info.filename)
                if reason is None and info.flag_bits & 0x1:
                    reason = "encrypted"
                if reason:
                    self.result.skipped.append(SkippedMember("/".join(member_path), reason, info.file_size))
                    continue
                try:
                    with archive.open(info) as member:
                        self._store_member(member, member_path, depth, compressed_size=info.compress_size)
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                    raise self.fail(f"member {info.filename!r} of {where} is damaged ({exc})") from None

    def _check_declared(self, infos: list[zipfile.ZipInfo], archive_size: int, where: str) -> None:
        limits = self.limits
        for info in infos:
            problem = unsafe_member_name(info.filename)
            if problem:
                raise self.fail(f"member {info.filename!r} of {where} {problem}; the archive is refused")
        files = [info for info in infos if not info.is_dir()]
        if self.members_seen + len(files) > limits.max_members:
            raise self.fail(f"{where} has {len(files)} members, more than the limit of {limits.max_members}")
        declared_total = 0
        for info in files:
            if info.file_size > limits.max_member_bytes:
                raise self.fail(
                    f"member {info.filename!r} of {where} would inflate to {info.file_size:,} bytes, "
                    f"more than the limit of {limits.max_member_bytes:,} (zip bomb?)"
                )
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > limits.ratio_applies_above_bytes and ratio > limits.max_ratio:
                raise self.fail(
                    f"member {info.filename!r} of {where} inflates {ratio:,.0f}x "
                    f"({info.compress_size:,} to {info.file_size:,} bytes), more than the limit of "
                    f"{limits.max_ratio:,.0f}x (zip bomb?)"
                )
            declared_total += info.file_size
        if self.total_bytes + declared_total > limits.max_total_bytes:
            raise self.fail(
                f"{where} would inflate to {declared_total:,} bytes in all, more than the limit of "
                f"{limits.max_total_bytes:,} (zip bomb?)"
            )
        # Members can share compressed data (overlapping-file bombs): judge the whole archive too.
        overall = declared_total / max(archive_size, 1)
        if declared_total > limits.ratio_applies_above_bytes and overall > limits.max_ratio:
            raise self.fail(
                f"{where} inflates {overall:,.0f}x ({archive_size:,} to "
                f"{declared_total:,} bytes), more than the limit of {limits.max_ratio:,.0f}x (zip bomb?)"
            )

    def _unpack_gzip(self, reader: BinaryIO, obj: StoredObject, path: tuple[str, ...], depth: int) -> None:
        header = reader.read(4096)
        reader.seek(0)
        outer = path[-1] if path else self.label
        name = gzip_original_name(header) or _strip_gzip_suffix(posixpath.basename(outer))
        member_path = path + (name,)
        self.result.member_names.append("/".join(member_path))
        self.members_seen += 1
        where = "/".join(path) or "the gzip file"
        try:
            with gzip.GzipFile(fileobj=reader, mode="rb") as member:
                self._store_member(member, member_path, depth, compressed_size=obj.size, compressed_reader=reader)
        except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
            raise self.fail(f"{where} is not a readable gzip stream ({exc})") from None

    # -- one member -------------------------------------------------------------------------

    def _chunks(self, stream: BinaryIO) -> Iterator[bytes]:
        while chunk := stream.read(COPY_CHUNK):
            yield chunk

    def _store_member(
        self,
        stream: BinaryIO,
        member_path: tuple[str, ...],
        depth: int,
        *,
        compressed_size: int,
        compressed_reader: BinaryIO | None = None,
    ) -> None:
        name = "/".join(member_path)
        limits = self.limits
        first = b""
        chunks = self._chunks(stream)
        for chunk in chunks:
            first += chunk
            if len(first) >= SNIFF_BYTES:
                break
        kind = detect_kind(first)
        if kind in (Kind.HTML, Kind.EMPTY, Kind.UNKNOWN):
            self.result.skipped.append(SkippedMember(name, f"not price data: {describe_body(first)}", len(first)))
            return
        with self.store.open_writer() as writer:
            for chunk in _prepend(first, chunks):
                writer.write(chunk)
                self.total_bytes += len(chunk)
                if writer.bytes_written > limits.max_member_bytes:
                    raise self.fail(f"member {name!r} inflates beyond {limits.max_member_bytes:,} bytes (zip bomb?)")
                if self.total_bytes > limits.max_total_bytes:
                    raise self.fail(f"members inflate beyond {limits.max_total_bytes:,} bytes in all (zip bomb?)")
                if writer.bytes_written > limits.ratio_applies_above_bytes:
                    consumed = compressed_reader.tell() if compressed_reader is not None else compressed_size
                    ratio = writer.bytes_written / max(consumed, 1)
                    if ratio > limits.max_ratio:
                        raise self.fail(
                            f"member {name!r} inflates more than {limits.max_ratio:,.0f}x "
                            f"({consumed:,} compressed bytes gave {writer.bytes_written:,}) (zip bomb?)"
                        )
            stored = writer.commit(kind)
        if not stored.already_present:
            self.result.bytes_unpacked += stored.size
        if kind.is_archive:
            self.unpack(stored, member_path, depth + 1)
            return
        self._keep(PriceFile(posixpath.basename(member_path[-1]), stored.sha256, kind, stored.size, member_path))

    def _store_copy(self, stream: BinaryIO, kind: Kind) -> StoredObject:
        with self.store.open_writer() as writer:
            for chunk in self._chunks(stream):
                writer.write(chunk)
            stored = writer.commit(kind)
        if not stored.already_present:
            self.result.bytes_unpacked += stored.size
        return stored

    def _keep(self, price_file: PriceFile) -> None:
        name = "/".join(price_file.archive_path) or price_file.name
        earlier = self._seen_sha.get(price_file.sha256)
        if earlier is not None:
            self.result.skipped.append(SkippedMember(name, f"the same bytes as {earlier!r}", price_file.size))
            return
        self._seen_sha[price_file.sha256] = name
        self.result.price_files.append(price_file)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def unpack(
    store: RawStore,
    raw: StoredObject,
    *,
    name: str,
    limits: ArchiveLimits = ArchiveLimits(),
) -> Unpacked:
    """The price files in a stored object: the object itself, or the members of an archive.

    `name` is the downloaded file's name (from its URL), used for messages and for the member
    name of a gzip file whose header carries none.
    """
    if not raw.kind.is_archive:
        return Unpacked(price_files=[PriceFile(name, raw.sha256, raw.kind, raw.size, ())])
    unpacker = _Unpacker(store, limits, label=name)
    unpacker.unpack(raw, (), depth=1)
    if not unpacker.result.price_files:
        skipped = "; ".join(f"{m.name} ({m.reason})" for m in unpacker.result.skipped[:5]) or "nothing"
        raise ArchiveError(f"{name}: the {raw.kind} archive holds no price file (found: {skipped})")
    return unpacker.result
