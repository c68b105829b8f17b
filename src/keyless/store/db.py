"""The embedded store: SQLite (WAL) through SQLAlchemy Core, with versioned migrations.

One Database per server. Writers go through `begin()`, which bumps `generation` after every
committed write, so hot-path caches (principals, compiled policies) know when to re-read.
A PostgreSQL backend plugs in by URL; nothing above this module speaks SQLite.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event, select, text

from keyless.store import schema
from keyless.store.migrations import MIGRATIONS


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.generation = 0  # bumped after each committed write: the cache key of every derived value
        self._write_lock = threading.Lock()

    @classmethod
    def open(cls, data_dir: Path) -> Database:
        data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
        path = data_dir / "keyless.db"
        engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        db = cls(engine)
        db.migrate()
        for suffix in ("", "-wal", "-shm"):
            p = Path(f"{path}{suffix}")
            if p.exists():
                os.chmod(p, 0o600)
        return db

    @contextmanager
    def begin(self, *, iam: bool = True) -> Iterator[Connection]:
        """A write transaction; SQLite allows one writer, so writers queue here, not on SQLITE_BUSY.

        `iam=True` (the safe default) invalidates every cached principal and policy set once the
        write commits; writers that cannot change who may do what (S3 data, EC2 state, the trail)
        pass iam=False so they do not flush the hot path's caches.
        """
        with self._write_lock:
            with self.engine.begin() as conn:
                yield conn
            if iam:
                self.generation += 1

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def migrate(self) -> None:
        schema.metadata.create_all(self.engine, tables=[schema.meta])
        with self.begin() as conn:
            row = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).first()
            current = int(row[0]) if row else 0
            for version, migration in enumerate(MIGRATIONS[current:], start=current + 1):
                migration(conn)
                _set_meta(conn, "schema_version", str(version))

    @property
    def schema_version(self) -> int:
        with self.read() as conn:
            return int(get_meta(conn, "schema_version") or 0)

    def close(self) -> None:
        self.engine.dispose()


def get_meta(conn: Connection, key: str) -> str | None:
    row = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).first()
    return row[0] if row else None


def _set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(text("INSERT INTO meta(key, value) VALUES (:k, :v) ON CONFLICT(key) DO UPDATE SET value = :v"), {"k": key, "v": value})


set_meta = _set_meta


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable across process crashes in WAL mode; only an OS crash can lose the last commits.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()
