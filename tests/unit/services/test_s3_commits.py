"""Batched commits of small bodies (commits.py): a failing upload in a batch fails alone, leaves no
blob, and the others' rows and blobs are all there; replaced blobs are unlinked; rows commit
only after their blob is on disk."""

from __future__ import annotations

import asyncio
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from keyless.services.s3 import storage
from keyless.services.s3.commits import SmallCommits
from keyless.store import s3 as s3_store
from keyless.store.db import Database


class CountingDb:
    """The real store, counting transactions."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.transactions = 0

    @contextmanager
    def begin(self, *, iam: bool = True) -> Iterator[Connection]:
        self.transactions += 1
        with self.db.begin(iam=iam) as conn:
            yield conn


@pytest.fixture()
def db(tmp_path: Path) -> CountingDb:
    database = Database.open(tmp_path / "db")
    with database.begin() as conn:
        s3_store.insert_bucket(conn, name="b", account="123456789012", region="us-east-1", created=0.0)
    return CountingDb(database)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[storage.BlobStore]:
    blobs = storage.BlobStore(tmp_path / "s3")
    blobs.prepare()
    yield blobs
    blobs.shutdown()


def row(bucket: str, key: str, blob: str, size: int) -> dict[str, Any]:
    return {"bucket": bucket, "key": key, "blob": blob, "size": size, "etag": '"e"', "modified": 1.0,
            "headers": {}, "metadata": {}, "checksum": None, "parts": None, "tags": None}


def put(conn: Connection, values: dict[str, Any], seen_on_disk: list[bool], store: storage.BlobStore) -> list[str | None]:
    seen_on_disk.append(store.path(values["blob"]).exists())
    if values["key"] == "refused":
        raise ValueError("refused before writing")
    return [s3_store.put_object(conn, values)]


def test_a_batch_commits_every_good_row_and_fails_only_the_bad_ones(db: CountingDb, store: storage.BlobStore) -> None:
    keys = [f"k{i}" for i in range(40)] + ["refused"]
    buckets = {key: "b" for key in keys} | {"k7": "no-such-bucket"}  # a foreign-key failure mid-batch
    seen_on_disk: list[bool] = []

    async def upload(key: str) -> str:
        blob = storage.new_blob_id()
        data = key.encode() * 10
        await store.commit(db, blob, data, put, row(buckets[key], key, blob, len(data)), seen_on_disk, store)
        return blob

    async def go() -> list[Any]:
        return await asyncio.gather(*(upload(key) for key in keys), return_exceptions=True)

    outcomes = dict(zip(keys, asyncio.run(go())))
    assert isinstance(outcomes.pop("k7"), IntegrityError)
    assert isinstance(outcomes.pop("refused"), ValueError)
    assert all(isinstance(blob, str) for blob in outcomes.values())
    assert all(seen_on_disk)  # every row was written after its blob was on disk
    assert db.transactions < len(keys)  # they shared transactions
    with db.db.read() as conn:
        for key, blob in outcomes.items():
            got = s3_store.get_object(conn, "b", key)
            assert got is not None and got["blob"] == blob
            assert store.path(blob).read_bytes() == key.encode() * 10
        assert s3_store.get_object(conn, "b", "refused") is None
    assert sorted(os.listdir(store.blobs)) == sorted(outcomes.values())  # the failed ones left nothing


def test_an_overwrite_unlinks_the_blob_it_replaced(db: CountingDb, store: storage.BlobStore) -> None:
    async def upload(data: bytes) -> str:
        blob = storage.new_blob_id()
        await store.commit(db, blob, data, put, row("b", "same", blob, len(data)), [], store)
        return blob

    first = asyncio.run(upload(b"one"))
    second = asyncio.run(upload(b"two"))
    assert not store.path(first).exists() and store.path(second).read_bytes() == b"two"


def test_shutdown_finishes_queued_commits(db: CountingDb, store: storage.BlobStore) -> None:
    commits = SmallCommits(store, 1)

    async def go() -> None:
        blobs = [storage.new_blob_id() for _ in range(5)]
        await asyncio.gather(*(commits.commit(db, blob, b"x", put, row("b", blob, blob, 1), [], store) for blob in blobs))

    asyncio.run(go())
    commits.shutdown()
    with db.db.read() as conn:
        assert len(s3_store.scan_objects(conn, "b", "", True, 100)) == 5
