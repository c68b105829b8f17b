"""Schema migrations, in order. The store records how many have run; append, never edit."""

from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection

from keyless.store import schema


def _m001_iam(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=schema.IAM_TABLES)


def _m002_trail(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=schema.TRAIL_TABLES)


def _m003_s3(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=schema.S3_TABLES)


def _m004_ec2(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=schema.EC2_TABLES)


MIGRATIONS: list[Callable[[Connection], None]] = [_m001_iam, _m002_trail, _m003_s3, _m004_ec2]
