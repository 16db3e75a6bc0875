"""Tolerant parsing of the PRA index's facility and file records.

The index types every scalar as a string, uses `""` and missing keys interchangeably, and has
carried several timestamp formats over time. Parsing here turns that into typed records once,
so the rest of the project never sees the raw shape.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

_EPOCH_RE = re.compile(r"^\d{9,13}(\.\d+)?$")
# Epoch values above this are milliseconds (1e11 seconds is the year 5138).
_EPOCH_MS_THRESHOLD = 1e11


def text(value: Any) -> str:
    """A field as a stripped string, with missing, null and non-scalars read as `""`."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def parse_int(value: Any) -> int | None:
    """Digits (optionally with separators or a trailing `.0`) to an int; junk to None."""
    raw = text(value).replace(",", "")
    if not raw:
        return None
    try:
        number = float(raw)
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0 or number != int(number):
        return None
    return int(number)


def parse_coordinate(value: Any, limit: float) -> float | None:
    raw = text(value)
    if not raw:
        return None
    try:
        number = float(raw)
    except ValueError:
        return None
    if not math.isfinite(number) or abs(number) > limit or number == 0.0:
        # 0.0 is how a missing coordinate is often encoded; no US hospital sits on the equator.
        return None
    return number


def parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    raw = text(value).lower()
    if raw in {"true", "1", "yes"}:
        return True
    if raw in {"false", "0", "no"}:
        return False
    return None


def parse_retrieved(value: Any) -> datetime | None:
    """PRA's `retrieved` timestamp as an aware UTC datetime, or None when it cannot be read.

    Accepts ISO-8601 with or without fractional seconds or zone (a zone-less value is UTC),
    `YYYY-MM-DD HH:MM:SS`, a bare date, and epoch seconds or milliseconds.
    """
    raw = text(value)
    if not raw:
        return None
    if _EPOCH_RE.match(raw):
        number = float(raw)
        if number > _EPOCH_MS_THRESHOLD:
            number /= 1000.0
        return datetime.fromtimestamp(number, tz=timezone.utc)
    candidate = raw.replace("/", "-")
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    # Some writers emit more than six fractional digits, which fromisoformat rejects.
    candidate = re.sub(r"(\.\d{6})\d+", r"\1", candidate)
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


@dataclass(frozen=True)
class FileRecord:
    """One price file listed under a facility. Identified by (facility id, fileid)."""

    fileid: str
    filename: str = ""
    filesuffix: str = ""
    filetype: str = ""
    retrieved: str = ""
    retrieved_at: datetime | None = None
    size: int | None = None
    url: str = ""
    pageurl: str = ""
    converted: bool | None = None
    storage: str = ""
    project: str = ""

    @property
    def uses_file_link(self) -> bool:
        """Files stored as `cfu` are resolved through `/file/link/{fileid}`."""
        return self.storage.lower() == "cfu"

    def change_signature(self) -> tuple[str, str, str]:
        """What PRA says about the file's content: a change here means a new version may exist.

        `retrieved` compares by instant when it parses, so a reformatted timestamp is no change.
        """
        when = self.retrieved_at.isoformat() if self.retrieved_at else self.retrieved
        return (when, "" if self.size is None else str(self.size), self.url)

    def signature(self) -> str:
        """The change signature as one string, stored and compared in the catalog."""
        return "\x1f".join(self.change_signature())


@dataclass(frozen=True)
class Facility:
    id: str
    name: str
    state: str
    address: str = ""
    city: str = ""
    zip: str = ""
    phone: str = ""
    beds: int | None = None
    lat: float | None = None
    lon: float | None = None
    ccn: str = ""
    website: str = ""
    files: tuple[FileRecord, ...] = field(default_factory=tuple)

    def fingerprint(self) -> str:
        """A stable hash of everything the index says about the facility and its files."""
        payload = asdict(self)
        return hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str, separators=(",", ":")).encode()
        ).hexdigest()


@dataclass
class StateListing:
    """A state's facilities as the index listed them, with what had to be skipped."""

    state: str
    facilities: list[Facility]
    skipped_without_name: int = 0
    skipped_without_id: int = 0
    duplicate_ids: int = 0

    @property
    def skipped(self) -> int:
        return self.skipped_without_name + self.skipped_without_id


def parse_file_record(raw: Any) -> FileRecord | None:
    if not isinstance(raw, dict):
        return None
    fileid = text(raw.get("fileid"))
    if not fileid:
        return None
    retrieved = text(raw.get("retrieved"))
    return FileRecord(
        fileid=fileid,
        filename=text(raw.get("filename")),
        filesuffix=text(raw.get("filesuffix")).lower(),
        filetype=text(raw.get("filetype")),
        retrieved=retrieved,
        retrieved_at=parse_retrieved(retrieved),
        size=parse_int(raw.get("size")),
        url=text(raw.get("url")),
        pageurl=text(raw.get("pageurl")),
        converted=parse_bool(raw.get("converted")),
        storage=text(raw.get("storage")),
        project=text(raw.get("project")),
    )


def parse_facility(raw: Any, state: str) -> Facility | None:
    """A facility record, or None when it has no id or no name (callers count those)."""
    if not isinstance(raw, dict):
        return None
    facility_id = text(raw.get("id"))
    name = text(raw.get("name"))
    if not facility_id or not name:
        return None
    files: dict[str, FileRecord] = {}
    raw_files = raw.get("files")
    for raw_file in raw_files if isinstance(raw_files, list) else []:
        record = parse_file_record(raw_file)
        if record is not None:
            # A fileid listed twice under one facility is one file; the last listing wins.
            files[record.fileid] = record
    return Facility(
        id=facility_id,
        name=name,
        # The searched state is authoritative: records sometimes carry an empty or stale state.
        state=state,
        address=text(raw.get("address")),
        city=text(raw.get("city")),
        zip=text(raw.get("zip")),
        phone=text(raw.get("phone")),
        beds=parse_int(raw.get("beds")),
        lat=parse_coordinate(raw.get("lat"), 90.0),
        lon=parse_coordinate(raw.get("long"), 180.0),
        ccn=text(raw.get("ccn")),
        website=text(raw.get("url")),
        files=tuple(sorted(files.values(), key=lambda f: f.fileid)),
    )


def parse_state_listing(state: str, records: Iterable[Any]) -> StateListing:
    listing = StateListing(state=state, facilities=[])
    seen: set[str] = set()
    for raw in records:
        facility = parse_facility(raw, state)
        if facility is None:
            if isinstance(raw, dict) and text(raw.get("id")):
                listing.skipped_without_name += 1
            else:
                listing.skipped_without_id += 1
            continue
        if facility.id in seen:
            listing.duplicate_ids += 1
            continue
        seen.add(facility.id)
        listing.facilities.append(facility)
    listing.facilities.sort(key=lambda f: f.id)
    return listing
