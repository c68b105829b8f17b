"""S3's flexible checksums: which algorithms, their headers, running digests, and S3's composite form.

A checksum travels base64-encoded in `x-amz-checksum-<algorithm>` (botocore sends it as a header
over http, or as an aws-chunked trailer). A multipart object's checksum is either COMPOSITE
(the algorithm over the concatenated part digests, suffixed `-N`) or FULL_OBJECT (the algorithm
over the whole object's bytes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol

from keyless.services.s3.errors import InvalidRequest


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class Crc32:
    """zlib's CRC-32 (the one S3 calls CRC32), as a hashlib-style object."""

    __slots__ = ("_value",)

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes, /) -> None:
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


def _external(name: str) -> Callable[[], Digest]:
    """CRC32C and CRC64NVME come from keyless.auth.chunked, which verifies trailers with them."""

    def make() -> Digest:
        try:
            from keyless.auth import chunked
        except ImportError as exc:  # pragma: no cover - depends on the auth package's build
            raise InvalidRequest(f"Checksum algorithm {name} is not supported.") from exc
        factory = getattr(chunked, "checksum_digest", None) or getattr(chunked, "new_checksum", None)
        if factory is None:  # pragma: no cover
            raise InvalidRequest(f"Checksum algorithm {name} is not supported.")
        return factory(name)  # type: ignore[no-any-return]

    return make


FACTORIES: Mapping[str, Callable[[], Digest]] = {
    "CRC32": Crc32,
    "CRC32C": _external("CRC32C"),
    "CRC64NVME": _external("CRC64NVME"),
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
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
