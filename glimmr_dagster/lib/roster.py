"""A state's roster: compare what the index lists now with the catalog, and record the difference.

A hospital the index stops listing is marked closed, never deleted (its history and prices stay
queryable); one that reappears is open again. A file record is "changed" when PRA's change
signal moved (`retrieved`, `size` or `url`), which is what the change sensor acts on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from .catalog import Catalog
from .catalog.schema import file_records, hospitals, state_scans
from .pra.records import Facility, FileRecord, StateListing


def hospital_key(state: str, facility_id: str) -> str:
    """The hospital's stable key and Dagster partition key: `"{STATE}-{PRA id}"`."""
    return f"{state}-{facility_id}"


@dataclass
class RosterChanges:
    state: str
    hospitals: int = 0
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: int = 0
    files_listed: int = 0
    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0

    @property
    def open_keys_added(self) -> list[str]:
        """Hospitals that need a Dagster partition: new ones and ones that reopened."""
        return sorted(self.new)

    def summary(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "hospitals": self.hospitals,
            "new": len(self.new),
            "changed": len(self.changed),
            "removed": len(self.removed),
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "files_listed": self.files_listed,
            "files_new": self.files_new,
            "files_changed": self.files_changed,
            "files_unchanged": self.files_unchanged,
            "files_removed": self.files_removed,
        }


def state_had_hospitals(catalog: Catalog, state: str) -> bool:
    """True when the catalog lists any open hospital in the state (an empty answer is then suspect)."""
    with catalog.read() as conn:
        return (
            conn.execute(
                sa.select(hospitals.c.hospital_key)
                .where(hospitals.c.state == state, hospitals.c.status == "open")
                .limit(1)
            ).first()
            is not None
        )


def _hospital_values(facility: Facility) -> dict[str, Any]:
    return {
        "facility_id": facility.id,
        "state": facility.state,
        "name": facility.name,
        "address": facility.address,
        "city": facility.city,
        "zip": facility.zip,
        "phone": facility.phone,
        "beds": facility.beds,
        "lat": facility.lat,
        "lon": facility.lon,
        "ccn": facility.ccn,
        "website": facility.website,
        "fingerprint": facility.fingerprint(),
    }


def _file_values(record: FileRecord) -> dict[str, Any]:
    return {
        "filename": record.filename,
        "filesuffix": record.filesuffix,
        "filetype": record.filetype,
        "retrieved": record.retrieved,
        "retrieved_at": record.retrieved_at,
        "size": record.size,
        "url": record.url,
        "pageurl": record.pageurl,
        "converted": record.converted,
        "storage": record.storage,
        "project": record.project,
        "signature": record.signature(),
    }


def apply_state_listing(
    catalog: Catalog, listing: StateListing, *, now: datetime | None = None
) -> RosterChanges:
    """Record a state's listing in the catalog in one transaction and say what changed."""
    now = now or datetime.now(timezone.utc)
    state = listing.state
    changes = RosterChanges(state=state, hospitals=len(listing.facilities), skipped=listing.skipped)
    with catalog.write() as conn:
        stored_hospitals = {
            row.hospital_key: row
            for row in conn.execute(
                sa.select(hospitals.c.hospital_key, hospitals.c.fingerprint, hospitals.c.status).where(
                    hospitals.c.state == state
                )
            )
        }
        stored_files: dict[tuple[str, str], Any] = {
            (row.hospital_key, row.fileid): row
            for row in conn.execute(
                sa.select(
                    file_records.c.hospital_key,
                    file_records.c.fileid,
                    file_records.c.signature,
                    file_records.c.listed,
                )
                .select_from(file_records.join(hospitals))
                .where(hospitals.c.state == state)
            )
        }

        hospital_inserts, hospital_updates, seen_updates = [], [], []
        file_inserts, file_updates, file_seen = [], [], []
        listed_keys: set[str] = set()
        listed_files: set[tuple[str, str]] = set()

        for facility in listing.facilities:
            key = hospital_key(state, facility.id)
            listed_keys.add(key)
            values = _hospital_values(facility)
            stored = stored_hospitals.get(key)
            if stored is None:
                changes.new.append(key)
                hospital_inserts.append(
                    {**values, "hospital_key": key, "status": "open", "first_seen_at": now,
                     "last_seen_at": now, "changed_at": now, "closed_at": None}
                )
            elif stored.status != "open" or stored.fingerprint != values["fingerprint"]:
                # A reopened hospital counts as new: it needs its partition and its files again.
                (changes.new if stored.status != "open" else changes.changed).append(key)
                hospital_updates.append(
                    {**values, "b_key": key, "status": "open", "last_seen_at": now,
                     "changed_at": now, "closed_at": None}
                )
            else:
                changes.unchanged += 1
                seen_updates.append({"b_key": key})

            for record in facility.files:
                ident = (key, record.fileid)
                listed_files.add(ident)
                changes.files_listed += 1
                stored_file = stored_files.get(ident)
                file_row = _file_values(record)
                if stored_file is None:
                    changes.files_new += 1
                    file_inserts.append(
                        {**file_row, "hospital_key": key, "fileid": record.fileid,
                         "facility_id": facility.id, "listed": True, "first_seen_at": now,
                         "last_seen_at": now, "changed_at": now}
                    )
                elif stored_file.signature != file_row["signature"] or not stored_file.listed:
                    changes.files_changed += 1
                    file_updates.append(
                        {**file_row, "b_key": key, "b_fileid": record.fileid, "listed": True,
                         "last_seen_at": now, "changed_at": now}
                    )
                else:
                    changes.files_unchanged += 1
                    # Refresh descriptive fields (name, page URL...) without signalling a change.
                    file_seen.append(
                        {**file_row, "b_key": key, "b_fileid": record.fileid, "last_seen_at": now}
                    )

        closing = [
            key for key, row in stored_hospitals.items() if row.status == "open" and key not in listed_keys
        ]
        changes.removed = sorted(closing)
        delisted = [
            ident for ident, row in stored_files.items() if row.listed and ident not in listed_files
        ]
        changes.files_removed = len(delisted)

        if hospital_inserts:
            conn.execute(hospitals.insert(), hospital_inserts)
        if hospital_updates:
            conn.execute(
                hospitals.update()
                .where(hospitals.c.hospital_key == sa.bindparam("b_key"))
                .values({name: sa.bindparam(name) for name in hospital_updates[0] if name != "b_key"}),
                hospital_updates,
            )
        if seen_updates:
            conn.execute(
                hospitals.update()
                .where(hospitals.c.hospital_key == sa.bindparam("b_key"))
                .values(last_seen_at=now),
                seen_updates,
            )
        if closing:
            conn.execute(
                hospitals.update()
                .where(hospitals.c.hospital_key.in_(closing))
                .values(status="closed", closed_at=now, changed_at=now)
            )
        if file_inserts:
            conn.execute(file_records.insert(), file_inserts)
        for batch in (file_updates, file_seen):
            if batch:
                conn.execute(
                    file_records.update()
                    .where(
                        file_records.c.hospital_key == sa.bindparam("b_key"),
                        file_records.c.fileid == sa.bindparam("b_fileid"),
                    )
                    .values({name: sa.bindparam(name) for name in batch[0] if not name.startswith("b_")}),
                    batch,
                )
        if delisted:
            conn.execute(
                file_records.update()
                .where(
                    file_records.c.hospital_key == sa.bindparam("b_key"),
                    file_records.c.fileid == sa.bindparam("b_fileid"),
                )
                .values(listed=False, changed_at=now),
                [{"b_key": key, "b_fileid": fileid} for key, fileid in delisted],
            )
    changes.new.sort()
    changes.changed.sort()
    return changes


def record_state_scan(
    catalog: Catalog,
    state: str,
    *,
    started_at: datetime,
    changes: RosterChanges | None = None,
    error: str | None = None,
) -> None:
    """Keep a line per scan attempt, successful or not, for the demo summary and for operators."""
    row: dict[str, Any] = {
        "state": state,
        "started_at": started_at,
        "finished_at": datetime.now(timezone.utc),
        "status": "failed" if error else "succeeded",
        "error": error,
    }
    if changes is not None:
        summary = changes.summary()
        row.update({name: summary[name] for name in (
            "hospitals", "new", "changed", "removed", "unchanged", "skipped",
            "files_new", "files_changed", "files_unchanged", "files_removed",
        )})
    with catalog.write() as conn:
        conn.execute(state_scans.insert().values(**row))


@dataclass
class StateScan:
    changes: RosterChanges
    seconds: float
    requests: int


def scan_state(catalog: Catalog, client: Any, state: str) -> StateScan:
    """Fetch one state's listing from the index and record it; a failure changes nothing."""
    started = datetime.now(timezone.utc)
    began = time.perf_counter()
    requests_before = client.requests_sent
    try:
        listing = client.search_state(state, had_hospitals=state_had_hospitals(catalog, state))
        changes = apply_state_listing(catalog, listing)
    except Exception as exc:
        record_state_scan(catalog, state, started_at=started, error=f"{type(exc).__name__}: {exc}")
        raise
    record_state_scan(catalog, state, started_at=started, changes=changes)
    return StateScan(
        changes=changes,
        seconds=time.perf_counter() - began,
        requests=client.requests_sent - requests_before,
    )
