"""S3's flexible checksums: which algorithms, their headers, running digests, and S3's composite form.

A checksum travels base64-encoded in `x-amz-checksum-<algorithm>` (botocore sends it as a header
over http, or as an aws-chunked trailer). A multipart object's checksum is either COMPOSITE
(the algorithm over the concatenated part digests, suffixed `-N`) or FULL_OBJECT (the algorithm
over the whole object's bytes).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from functools import partial
from typing import Callable, Mapping, Protocol

from keyless.auth import chunked
from keyless.services.s3.errors import InvalidRequest


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


# keyless.auth.chunked owns the implementations (it verifies aws-chunked trailers with them).
FACTORIES: Mapping[str, Callable[[], Digest]] = {
    name: partial(chunked.new_checksum, name) for name in ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
}
DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}
ALGORITHMS = tuple(FACTORIES)


def header_name(algorithm: str) -> str:
    return f"x-amz-checksum-{algorithm.lower()}"


def member_name(algorithm: str) -> str:
    """The botocore member that carries it: ChecksumCRC32, ChecksumSHA256, ..."""
    return f"Checksum{algorithm}"


def new_digest(algorithm: str) -> Digest:
    return FACTORIES[algorithm]()


def encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def decode(algorithm: str, value: str) -> bytes:
    """A client's base64 checksum value, checked for shape (S3: InvalidRequest when malformed)."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != DIGEST_SIZES[algorithm]:
        raise InvalidRequest(f"Value for {header_name(algorithm)} header is invalid.")
    return raw


def composite(algorithm: str, part_digests: list[bytes]) -> str:
    """COMPOSITE multipart checksum: the algorithm over the parts' raw digests, then `-N`."""
    digest = new_digest(algorithm)
    for raw in part_digests:
        digest.update(raw)
    return f"{encode(digest.digest())}-{len(part_digests)}"


@dataclass(frozen=True, slots=True)
class Expected:
    """One checksum a client sent with a body, to compare once the body has been read."""

    algorithm: str
    value: str  # base64, as sent


def requested(params: Mapping[str, object]) -> list[Expected]:
    """The checksums a PutObject/UploadPart request carries as members (validated for shape)."""
    found = []
    for algorithm in ALGORITHMS:
        value = params.get(member_name(algorithm))
        if isinstance(value, str) and value:
            decode(algorithm, value)
            found.append(Expected(algorithm, value))
    if len(found) > 1:
        raise InvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
    return found
