"""The catalog's tables: what the project knows about hospitals, their files and its own work.

This module is the one description of the current shape. Migrations (`migrations.py`) create
tables from it and carry older databases forward step by step.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData()


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite has no time zones; store naive UTC there)."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(sa.DateTime(timezone=dialect.name != "sqlite"))

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("catalog timestamps must be timezone-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

hospitals = sa.Table(
    "hospitals",
    metadata,
    # "{STATE}-{PRA facility id}": also the Dagster partition key of the hospital.
    sa.Column("hospital_key", sa.String(80), primary_key=True),
    sa.Column("facility_id", sa.String(64), nullable=False),
    sa.Column("state", sa.String(2), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("address", sa.Text, nullable=False, server_default=""),
    sa.Column("city", sa.Text, nullable=False, server_default=""),
    sa.Column("zip", sa.String(20), nullable=False, server_default=""),
    sa.Column("phone", sa.String(40), nullable=False, server_default=""),
    sa.Column("beds", sa.Integer),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("ccn", sa.String(20), nullable=False, server_default=""),
    sa.Column("website", sa.Text, nullable=False, server_default=""),
    # open: listed by the last successful scan of its state; closed: no longer listed.
    sa.Column("status", sa.String(10), nullable=False, server_default="open"),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("first_seen_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("changed_at", UtcDateTime, nullable=False),
    sa.Column("closed_at", UtcDateTime),
    sa.UniqueConstraint("state", "facility_id", name="uq_hospitals_state_facility"),
)
sa.Index("ix_hospitals_facility_id", hospitals.c.facility_id)
sa.Index("ix_hospitals_state_status", hospitals.c.state, hospitals.c.status)

file_records = sa.Table(
    "file_records",
    metadata,
    sa.Column("hospital_key", sa.String(80), sa.ForeignKey("hospitals.hospital_key"), primary_key=True),
    sa.Column("fileid", sa.String(128), primary_key=True),
    sa.Column("facility_id", sa.String(64), nullable=False),
    sa.Column("filename", sa.Text, nullable=False, server_default=""),
    sa.Column("filesuffix", sa.String(20), nullable=False, server_default=""),
    sa.Column("filetype", sa.String(40), nullable=False, server_default=""),
    # As PRA wrote it (never the download time), and parsed to an instant where possible.
    sa.Column("retrieved", sa.String(64), nullable=False, server_default=""),
    sa.Column("retrieved_at", UtcDateTime),
    sa.Column("size", sa.BigInteger),
    sa.Column("url", sa.Text, nullable=False, server_default=""),
    sa.Column("pageurl", sa.Text, nullable=False, server_default=""),
    sa.Column("converted", sa.Boolean),
    sa.Column("storage", sa.Text, nullable=False, server_default=""),
    sa.Column("project", sa.Text, nullable=False, server_default=""),
    # False once the facility's record stops listing the file (or the facility closes).
    sa.Column("listed", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("first_seen_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    # When retrieved, size or url last changed: the change signal the sensor acts on.
    sa.Column("changed_at", UtcDateTime, nullable=False),
    # retrieved (as an instant), size and url in one comparable string; see file_acquisitions.
    sa.Column("signature", sa.Text, nullable=False, server_default=""),
)
sa.Index("ix_file_records_fileid", file_records.c.fileid)

# What the project last did about each listed file: the signature it last acquired, and the
# attempts since then, so a failing server is retried with backoff rather than every tick.
file_acquisitions = sa.Table(
    "file_acquisitions",
    metadata,
    sa.Column("hospital_key", sa.String(80), primary_key=True),
    sa.Column("fileid", sa.String(128), primary_key=True),
    # The file_records.signature the last successful acquisition saw; "" before the first.
    sa.Column("acquired_signature", sa.Text, nullable=False, server_default=""),
    sa.Column("acquired_at", UtcDateTime),
    # Attempts since the last success. A run counts its attempt when it starts, so a run that
    # dies without a word still backs off.
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_attempt_at", UtcDateTime),
    sa.Column("next_attempt_at", UtcDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("last_run_id", sa.String(64)),
)
sa.Index("ix_file_acquisitions_next_attempt", file_acquisitions.c.next_attempt_at)

# Every version of every price file a hospital has had: one row per (hospital, fileid, price
# file content hash). A ZIP of three price files is three rows sharing `raw_sha256`. The rows
# flagged current are what "prices now" means; the others stay for trends.
file_versions = sa.Table(
    "file_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("hospital_key", sa.String(80), nullable=False),
    sa.Column("fileid", sa.String(128), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    # The member's name inside its archive; "" when the download itself is the price file.
    sa.Column("member_name", sa.Text, nullable=False, server_default=""),
    sa.Column("raw_sha256", sa.String(64), nullable=False),
    sa.Column("raw_kind", sa.String(16), nullable=False),
    sa.Column("raw_size", sa.BigInteger, nullable=False),
    sa.Column("archive_members", sa.Text, nullable=False, server_default="[]"),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("final_url", sa.Text, nullable=False, server_default=""),
    sa.Column("http_status", sa.Integer),
    sa.Column("content_type", sa.Text, nullable=False, server_default=""),
    sa.Column("etag", sa.Text, nullable=False, server_default=""),
    sa.Column("last_modified", sa.Text, nullable=False, server_default=""),
    # PRA's view of the file when this version was (last) confirmed.
    sa.Column("retrieved", sa.String(64), nullable=False, server_default=""),
    sa.Column("signature", sa.Text, nullable=False, server_default=""),
    sa.Column("is_current", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("first_seen_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("bytes_transferred", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("timings", sa.Text, nullable=False, server_default="{}"),
    sa.Column("run_id", sa.String(64), nullable=False, server_default=""),
    sa.UniqueConstraint("hospital_key", "fileid", "sha256", name="uq_file_versions_member"),
)
sa.Index("ix_file_versions_current", file_versions.c.hospital_key, file_versions.c.is_current)
sa.Index("ix_file_versions_fileid_signature", file_versions.c.fileid, file_versions.c.signature)
sa.Index("ix_file_versions_sha256", file_versions.c.sha256)

# The parse of each current price file of a hospital, per parser version: where its Parquet is
# in the lake and everything the parser counted. A version parsed by the same parser version is
# reused, not redone; a new parser version parses again (and keeps the old rows for comparison).
parsed_files = sa.Table(
    "parsed_files",
    metadata,
    sa.Column("hospital_key", sa.String(80), primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("parser_version", sa.String(20), primary_key=True),
    sa.Column("fileid", sa.String(128), nullable=False),
    # parsed | failed
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("lake_path", sa.Text, nullable=False, server_default=""),
    sa.Column("format", sa.String(10), nullable=False, server_default=""),
    sa.Column("layout", sa.String(20), nullable=False, server_default=""),
    sa.Column("cms_version", sa.String(10), nullable=False, server_default=""),
    sa.Column("schema_version", sa.String(20), nullable=False, server_default=""),
    sa.Column("rows_read", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_written", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_rejected", sa.BigInteger, nullable=False, server_default="0"),
    # The parser's full summary (rejects by reason, cells not carried, payers, codes...) as JSON.
    sa.Column("summary", sa.Text, nullable=False, server_default="{}"),
    sa.Column("error", sa.Text),
    sa.Column("seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("parsed_at", UtcDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False, server_default=""),
)
sa.Index("ix_parsed_files_sha256", parsed_files.c.sha256)

state_scans = sa.Table(
    "state_scans",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("state", sa.String(2), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=False),
    # succeeded | failed
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("hospitals", sa.Integer, nullable=False, server_default="0"),
    sa.Column("new", sa.Integer, nullable=False, server_default="0"),
    sa.Column("changed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("removed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
    sa.Column("files_new", sa.Integer, nullable=False, server_default="0"),
    sa.Column("files_changed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("files_unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("files_removed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
)
sa.Index("ix_state_scans_state_finished", state_scans.c.state, state_scans.c.finished_at)

# A sliding-window request log shared by every process that talks to a rate-limited host.
rate_limit_events = sa.Table(
    "rate_limit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("bucket", sa.String(100), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)
sa.Index("ix_rate_limit_events_bucket_at", rate_limit_events.c.bucket, rate_limit_events.c.at)
