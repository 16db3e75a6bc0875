"""Small, pure pieces of HTTP file serving: dates, ETag matching, Range and Accept-Encoding parsing."""

from __future__ import annotations

import email.utils
import re

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def parse_http_date(text: str | None) -> float | None:
    if not text:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed.timestamp()


def _tags(header: str) -> list[str]:
    return [part.strip() for part in header.split(",") if part.strip()]


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def none_match(header: str | None, etag: str) -> bool:
    """If-None-Match matches (weak comparison, as RFC 9110 prescribes for it)."""
    if header is None:
        return False
    tags = _tags(header)
    return "*" in tags or _opaque(etag) in {_opaque(tag) for tag in tags}


def if_range_allows(header: str | None, etag: str, last_modified: float) -> bool:
    """If-Range: serve the range only if the representation is unchanged (strong comparison)."""
    if header is None:
        return True
    header = header.strip()
    if header.startswith('"') or header.startswith("W/"):
        return not header.startswith("W/") and header == etag
    since = parse_http_date(header)
    return since is not None and int(last_modified) <= int(since)


class RangeNotSatisfiable(Exception):
    pass


def parse_single_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The [start, end) byte range asked for, or None to send the whole representation.

    Only a single range is honoured; a multi-range or malformed header is ignored (RFC 9110 lets a
    server do so), and an unsatisfiable one raises RangeNotSatisfiable.
    """
    if header is None or "," in header:
        return None
    match = _RANGE.match(header)
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable()
        return max(size - suffix, 0), size
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable()
    end = size if last == "" else min(int(last) + 1, size)
    if end <= start:
        return None
    return start, end


def accepts_gzip(header: str | None) -> bool:
    if not header:
        return False
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False
