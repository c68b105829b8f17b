"""Schema migrations, in order. The store records how many have run; append, never edit."""

from __future__ import annotations

import json
from typing import Any, Callable

from sqlalchemy import Boolean, Column, Connection, Float, ForeignKey, MetaData, String, Table, Text

from keyless.store import schema


def _m001_iam(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=schema.IAM_TABLES)


# The trail's first layout, one row per event (replaced by segments in _m005): kept so that
# migrations run from any version in the same order.
_legacy = MetaData()
_trail_events = Table(
    "trail_events", _legacy,
    Column("event_id", String, primary_key=True),
    Column("event_time", Float, nullable=False, index=True),
    Column("event_name", String, nullable=False, index=True),
    Column("event_source", String, nullable=False),
    Column("category", String, nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("username", String),
    Column("access_key_id", String),
    Column("principal_arn", String, index=True),
    Column("denied", Boolean, nullable=False),
    Column("shape", String, nullable=False),
    Column("record", Text, nullable=False),
)
_trail_resources = Table(
    "trail_resources", _legacy,
    Column("event_id", String, ForeignKey("trail_events.event_id", ondelete="CASCADE"), primary_key=True),
    Column("resource_type", String, primary_key=True),
    Column("resource_name", String, primary_key=True, index=True),
)


def _m002_trail(conn: Connection) -> None:
    _legacy.create_all(conn)


def _m003_s3(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=schema.S3_TABLES)


def _m004_ec2(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=schema.EC2_TABLES)


def _m005_trail_segments(conn: Connection) -> None:
    """Events stored one row each become segments of CloudTrail records, keeping their ids."""
    from keyless.store import trail

    schema.metadata.create_all(conn, tables=schema.TRAIL_TABLES)
    batch: list[dict[str, Any]] = []
    for (record_text, shape) in conn.exec_driver_sql(
            "SELECT record, shape FROM trail_events ORDER BY event_time, event_id"):
        batch.append(_legacy_record(record_text, shape))
        if len(batch) == 1000:
            trail.insert(conn, batch)
            batch = []
    if batch:
        trail.insert(conn, batch)
    _legacy.drop_all(conn)


def _legacy_record(text: str, shape: str) -> dict[str, Any]:
    """The CloudTrail record of a row of the first layout: a record, or [event id, the call]."""
    from keyless.trail.events import call_from_json, record

    if shape == "record":
        return dict(json.loads(text))
    event_id, call = json.loads(text)
    rec = record(call_from_json(call))
    rec["eventID"] = event_id
    return rec


def _m006_trail_segment_keys(conn: Connection) -> None:
    """Lookup keys move from a text column of each segment (scanned) to an indexed table."""
    schema.metadata.create_all(conn, tables=schema.TRAIL_TABLES)
    columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(trail_segments)")}
    if "lookup_keys" not in columns:  # created by _m005 with today's schema
        return
    rows = [(key, segment_id) for segment_id, text in conn.exec_driver_sql("SELECT segment_id, lookup_keys FROM trail_segments")
            for key in text.split("\n") if key]
    if rows:
        conn.exec_driver_sql("INSERT OR IGNORE INTO trail_segment_keys (lookup_key, segment_id) VALUES (?, ?)", rows)
    conn.exec_driver_sql("ALTER TABLE trail_segments DROP COLUMN lookup_keys")


MIGRATIONS: list[Callable[[Connection], None]] = [_m001_iam, _m002_trail, _m003_s3, _m004_ec2, _m005_trail_segments,
                                                  _m006_trail_segment_keys]
