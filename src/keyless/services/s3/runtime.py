"""What the S3 service keeps while the server runs: the blob store and a bucket cache.

Every S3 request needs its bucket (to answer NoSuchBucket and to hand the compiled bucket
policy to the engine), so buckets are cached in memory and dropped by the S3 writes that change
them. Bucket policies are compiled once per document (keyless.auth.policies.compiled).
The cache assumes this process makes every bucket write; a multi-process deployment would key it
on a shared version as the IAM caches do (`db.generation`), which policy writes already bump.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keyless.auth.policies import compiled
from keyless.policy import PolicyKind
from keyless.services.s3.storage import BlobStore
from keyless.store import s3 as s3_store

if TYPE_CHECKING:
    from keyless.policy import Policy
    from keyless.server.state import AppState
    from keyless.services.base import RequestContext

log = logging.getLogger("keyless.s3")
_CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    account: str
    region: str
    created: float
    policy_text: str | None
    tags: list[dict[str, str]] | None

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"

    @property
    def policy(self) -> Policy | None:
        if self.policy_text is None:
            return None
        return compiled(self.policy_text, PolicyKind.RESOURCE, "bucket policy", self.arn)


class S3Runtime:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.blobs = BlobStore(state.settings.data_dir / "s3")
        self._buckets: dict[str, tuple[int, Bucket | None]] = {}
        self.blobs.ensure_dirs()

    async def start(self) -> None:
        """Before serving: remove temporary files and blobs that no row references (crash debris)."""
        removed = self.blobs.prepare()
        with self.state.db.read() as conn:
            referenced = s3_store.referenced_blobs(conn)
        removed += self.blobs.sweep(referenced)
        if removed:
            log.warning("s3: removed %d unreferenced files left by an earlier crash", removed)

    async def stop(self) -> None:
        """Let deletions in flight finish (what they miss, the next start's sweep removes)."""
        self.blobs.shutdown()

    def bucket(self, name: str) -> Bucket | None:
        generation = self.state.db.generation
        hit = self._buckets.get(name)
        if hit is not None and hit[0] == generation:
            return hit[1]
        with self.state.db.read() as conn:
            row = s3_store.get_bucket(conn, name)
        bucket = None if row is None else _bucket(row)
        if len(self._buckets) >= _CACHE_LIMIT:
            self._buckets.clear()
        self._buckets[name] = (generation, bucket)
        return bucket

    def forget(self, name: str) -> None:
        """Called after every committed write to a bucket row (create, delete, policy, tags)."""
        self._buckets.pop(name, None)


def _bucket(row: dict[str, Any]) -> Bucket:
    return Bucket(row["name"], row["account"], row["region"], row["created"], row["policy"], row["tags"])


def runtime(ctx: RequestContext) -> S3Runtime:
    return ctx.state.components["s3"]  # type: ignore[no-any-return]
