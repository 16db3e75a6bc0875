"""Text encoding of CSV and JSON files: check the whole file, transcode only when it is not UTF-8.

Hospitals publish UTF-8 (with or without a BOM), cp1252, latin-1, and UTF-8 files with a few
cp1252 bytes pasted in (CMS's own v2 wide example and the complete real v3 file in the fixtures).
The readers downstream need valid UTF-8, and silently replacing bytes would change prices' text.

So: the whole file is checked (cheaply: ASCII chunks are skipped, the rest decoded). A valid UTF-8
file is read in place, untouched. Anything else is transcoded once, streaming, into a UTF-8 copy:
each byte sequence that is not valid UTF-8 is read as cp1252 (or latin-1 for the five bytes cp1252
leaves undefined), which decodes pure cp1252/latin-1 files and the mixed ones alike. UTF-16 files
(with a BOM) are decoded as such.
"""

from __future__ import annotations

import codecs
import contextvars
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .errors import ParseError

T = TypeVar("T")

CHUNK_BYTES = 16 * 1024 * 1024
_NON_ASCII = bytes(range(128, 256))
_ASCII = bytes(range(128))

_fallback_bytes: contextvars.ContextVar[list[int]] = contextvars.ContextVar("fallback_bytes")


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    counter = _fallback_bytes.get(None)
    if counter is not None:
        counter[0] += len(bad)
    chars = []
    for byte in bad:
        try:
            chars.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            chars.append(chr(byte))  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: latin-1 (C1 controls)
    return "".join(chars), error.end


codecs.register_error("glimmr-cp1252-fallback", _cp1252_fallback)


@dataclass(frozen=True)
class TextEncoding:
    name: str  # utf-8, utf-8-sig, utf-16, or "needs transcoding" (named after transcoding)
    is_utf8: bool
    utf16: bool = False
    cr_only_newlines: bool = False  # classic Mac line endings: polars only splits on \n

    @property
    def needs_transcoding(self) -> bool:
        return not self.is_utf8 or self.utf16 or self.cr_only_newlines


def sniff_text_head(path: Path) -> TextEncoding:
    """Is the file UTF-8 (BOM or not), UTF-16, or something else? Only its first chunk is checked.

    For readers that validate UTF-8 themselves as they go (polars' CSV reader, the JSON reader's
    strict decoding): a file whose head is valid UTF-8 is read in place, and the reader's own
    "invalid UTF-8" error sends it through `transcode_to_utf8` after all (see `parse_as_utf8`).
    This saves a whole pass over the (usually valid) file.
    """
    with open(path, "rb") as handle:
        head = handle.read(CHUNK_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return TextEncoding("utf-16", is_utf8=False, utf16=True)
    sample = head[: 1024 * 1024]
    cr_only = b"\r" in sample and b"\n" not in sample
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)  # a sequence cut at the end may continue
    except UnicodeDecodeError:
        return TextEncoding("non-utf-8", is_utf8=False, cr_only_newlines=cr_only)
    bom = head.startswith(codecs.BOM_UTF8)
    return TextEncoding("utf-8-sig" if bom else "utf-8", is_utf8=True, cr_only_newlines=cr_only)


class NotUtf8Error(Exception):
    """Raised by a reader that met bytes that are not UTF-8 after a valid head (see `parse_as_utf8`)."""


def parse_as_utf8(parse_text: Callable[..., T], source: Path, out_path: Path, *, work_dir: Path, **options) -> T:
    """`parse_text(source, text_path, out_path, encoding_name, fallback_bytes, **options)`, with
    `text_path` the source as UTF-8 text.

    A file whose head is UTF-8 is read in place; otherwise, or when `parse_text` raises
    `NotUtf8Error` (a stray cp1252 byte deep in the file), a UTF-8 copy is written to `work_dir`
    and read instead. The copy is removed afterwards, whatever happens."""
    scratch = work_dir / f".{out_path.name}.utf8.tmp"
    encoding = sniff_text_head(source)
    try:
        while True:
            if encoding.needs_transcoding:
                info = transcode_for_parsing(source, scratch, encoding)
                text_path, encoding_name, fallback_bytes = info.path, info.encoding, info.fallback_bytes
            else:
                text_path, encoding_name, fallback_bytes = source, encoding.name, 0
            try:
                return parse_text(source, text_path, out_path, encoding_name, fallback_bytes, **options)
            except NotUtf8Error:
                if encoding.needs_transcoding:  # pragma: no cover - a transcoded copy is UTF-8
                    raise ParseError(source, None, "not valid UTF-8 after transcoding") from None
                encoding = TextEncoding("non-utf-8", is_utf8=False, cr_only_newlines=encoding.cr_only_newlines)
    finally:
        remove_quietly(scratch)


@dataclass(frozen=True)
class Transcoded:
    path: Path
    encoding: str  # what the source turned out to be: cp1252, utf-8+cp1252, utf-16, utf-8
    fallback_bytes: int  # bytes that were read as cp1252/latin-1


def transcode_to_utf8(source: Path, dest: Path, encoding: TextEncoding) -> Transcoded:
    """Write a UTF-8 (no BOM) copy of `source` to `dest`, streaming."""
    counter = [0]
    token = _fallback_bytes.set(counter)
    non_ascii = 0
    try:
        if encoding.utf16:
            decoder = codecs.getincrementaldecoder("utf-16")(errors="strict")
        else:
            decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="glimmr-cp1252-fallback")
        with open(source, "rb") as src, open(dest, "w", encoding="utf-8", newline="") as out:
            previous_cr = False
            while True:
                chunk = src.read(CHUNK_BYTES)
                final = not chunk
                if not encoding.utf16:
                    non_ascii += len(chunk.translate(None, _ASCII))
                text = decoder.decode(chunk, final=final)
                if encoding.cr_only_newlines:
                    text = text.replace("\r\n", "\n").replace("\r", "\n")
                    if previous_cr and text.startswith("\n"):
                        text = text[1:]
                    previous_cr = chunk.endswith(b"\r")
                out.write(text)
                if final:
                    break
    except UnicodeDecodeError as exc:
        dest.unlink(missing_ok=True)
        raise ValueError(f"not decodable as UTF-16 near byte {exc.start}") from exc
    finally:
        _fallback_bytes.reset(token)
    fallback = counter[0]
    if encoding.utf16:
        name = "utf-16"
    elif fallback == 0:
        name = "utf-8"
    elif fallback == non_ascii:
        name = "cp1252"
    else:
        name = "utf-8+cp1252"
    return Transcoded(dest, name, fallback)


def transcode_for_parsing(source: Path, dest: Path, encoding: TextEncoding) -> Transcoded:
    """`transcode_to_utf8` for a parser: an undecodable file is that file's parse error."""
    try:
        return transcode_to_utf8(source, dest, encoding)
    except ValueError as exc:
        raise ParseError(source, None, str(exc)) from exc


def remove_quietly(path: Path | None) -> None:
    if path is not None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
