"""aws-chunked request bodies (S3 streaming uploads) and the flexible checksums they carry.

Framing (S3 "sigv4-streaming" and "sigv4-streaming-trailers" docs; botocore AwsChunkedWrapper):

    <hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n     ...repeated...
    0[;chunk-signature=<sig>]\\r\\n
    <trailer name>:<value>\\r\\n                           0..n trailers (x-amz-checksum-crc32:<b64>)
    [x-amz-trailer-signature:<sig>\\r\\n]
    \\r\\n

Signed chunks chain from the seed (Authorization header) signature:

    AWS4-HMAC-SHA256-PAYLOAD\\n<timestamp>\\n<scope>\\n<previous sig>\\n<sha256("")>\\n<sha256(chunk)>
    AWS4-HMAC-SHA256-TRAILER\\n<timestamp>\\n<scope>\\n<last chunk sig>\\n<sha256("name:value\\n"...)>

The decoder holds at most one chunk (signed chunks are verified before their bytes are yielded;
unsigned ones pass straight through), checks the decoded length against
x-amz-decoded-content-length and the trailing checksum against the bytes, and leaves the
trailers in `.trailers`. Bytes are only trustworthy once iteration ends without an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import zlib
from functools import cache
from typing import AsyncIterator, Protocol

from keyless import errors
from keyless.auth.sigv4 import (
    EMPTY_SHA256,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    InvalidRequest,
    SigningContext,
    signature,
)
from keyless.protocol.http import HttpRequest

MAX_SIGNED_CHUNK = 16 * 1024 * 1024  # the one chunk a signed body may make us hold
_MAX_LINE = 4096
_MAX_TRAILER_BYTES = 16 * 1024
_TRAILER_SIGNATURE = "x-amz-trailer-signature"
_CHUNK_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                   "Check your key and signing method.")


class IncompleteBody(errors.AwsError):
    code = "IncompleteBody"
    status = 400


class MalformedTrailerError(errors.AwsError):
    code = "MalformedTrailerError"
    status = 400


class BadDigest(errors.AwsError):
    code = "BadDigest"
    status = 400


class MissingContentLength(errors.AwsError):
    code = "MissingContentLength"
    status = 411


def _incomplete() -> IncompleteBody:
    return IncompleteBody("You did not provide the number of bytes specified by the Content-Length HTTP header")


def _malformed_trailer() -> MalformedTrailerError:
    return MalformedTrailerError("The request contained trailing data that was not well-formed or did not conform "
                                 "to our published schema.")


# --- flexible checksums (x-amz-checksum-*), base64 of the big-endian digest as S3 returns them ---

CHECKSUM_ALGORITHMS = {
    "x-amz-checksum-crc32": "CRC32", "x-amz-checksum-crc32c": "CRC32C", "x-amz-checksum-crc64nvme": "CRC64NVME",
    "x-amz-checksum-sha1": "SHA1", "x-amz-checksum-sha256": "SHA256",
}
# Reflected polynomials: CRC-32C (Castagnoli) and CRC-64/NVME, both with all-ones init and xorout.
_CRC_POLYNOMIALS = {"CRC32C": (0x82F63B78, 32), "CRC64NVME": (0x9A6C9329AC4BC9B5, 64)}


class Checksum(Protocol):
    def update(self, data: bytes) -> None: ...
    def digest(self) -> bytes: ...
    def b64digest(self) -> str: ...


def new_checksum(algorithm: str) -> Checksum:
    """A running checksum: CRC32, CRC32C, CRC64NVME, SHA1 or SHA256 (any case)."""
    name = algorithm.upper()
    if name == "CRC32":
        return _Crc32()
    if name in ("SHA1", "SHA256"):
        return _Hash(name.lower())
    if name in _CRC_POLYNOMIALS:
        return _crt_checksum(name) or _TableCrc(*_CRC_POLYNOMIALS[name])
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def checksum_b64(algorithm: str, data: bytes) -> str:
    checksum = new_checksum(algorithm)
    checksum.update(data)
    return checksum.b64digest()


class _Digest:
    def digest(self) -> bytes:
        raise NotImplementedError

    def b64digest(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


class _Crc32(_Digest):
    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)

    def digest(self) -> bytes:
        return (self._crc & 0xFFFFFFFF).to_bytes(4, "big")


class _Hash(_Digest):
    def __init__(self, name: str) -> None:
        self._hash = hashlib.new(name)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()


class _CrtCrc(_Digest):
    """awscrt's native CRCs (what botocore itself uses), when that package is installed."""

    def __init__(self, function: object, width: int) -> None:
        self._function, self._width, self._crc = function, width, 0

    def update(self, data: bytes) -> None:
        self._crc = self._function(data, self._crc)  # type: ignore[operator]

    def digest(self) -> bytes:
        return self._crc.to_bytes(self._width // 8, "big")


def _crt_checksum(name: str) -> Checksum | None:
    try:
        from awscrt import checksums  # type: ignore[import-not-found]
    except ImportError:
        return None
    return _CrtCrc(checksums.crc32c, 32) if name == "CRC32C" else _CrtCrc(checksums.crc64nvme, 64)


@cache
def _slicing_tables(poly: int) -> tuple[list[int], ...]:
    first = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        first.append(crc)
    tables = [first]
    for _ in range(7):
        tables.append([(value >> 8) ^ first[value & 0xFF] for value in tables[-1]])
    return tuple(tables)


class _TableCrc(_Digest):
    """Pure-Python reflected CRC, eight bytes per step ("slicing-by-8")."""

    def __init__(self, poly: int, width: int) -> None:
        self._tables = _slicing_tables(poly)
        self._width = width
        self._mask = (1 << width) - 1
        self._crc = self._mask

    def update(self, data: bytes) -> None:
        t0, t1, t2, t3, t4, t5, t6, t7 = self._tables
        view = memoryview(data).cast("B")
        whole = len(view) - len(view) % 8
        crc = self._crc
        if self._width == 64:
            for (x,) in struct.iter_unpack("<Q", view[:whole]):
                x ^= crc
                crc = (t7[x & 255] ^ t6[(x >> 8) & 255] ^ t5[(x >> 16) & 255] ^ t4[(x >> 24) & 255]
                       ^ t3[(x >> 32) & 255] ^ t2[(x >> 40) & 255] ^ t1[(x >> 48) & 255] ^ t0[x >> 56])
        else:
            for low, high in struct.iter_unpack("<II", view[:whole]):
                low ^= crc
                crc = (t7[low & 255] ^ t6[(low >> 8) & 255] ^ t5[(low >> 16) & 255] ^ t4[low >> 24]
                       ^ t3[high & 255] ^ t2[(high >> 8) & 255] ^ t1[(high >> 16) & 255] ^ t0[high >> 24])
        for byte in view[whole:]:
            crc = t0[(crc ^ byte) & 255] ^ (crc >> 8)
        self._crc = crc

    def digest(self) -> bytes:
        return (self._crc ^ self._mask).to_bytes(self._width // 8, "big")


# --- decoding --------------------------------------------------------------------------------


class _ByteReader:
    """Lines and exact byte counts over an async iterator that splits the body anywhere."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source.__aiter__()
        self._buffer = bytearray()
        self._eof = False

    async def _fill(self) -> bool:
        """Append the next non-empty piece; False at the end of the source."""
        while not self._eof:
            try:
                piece = await self._source.__anext__()
            except StopAsyncIteration:
                self._eof = True
            else:
                if piece:
                    self._buffer += piece
                    return True
        return False

    async def readline(self, limit: int) -> bytes | None:
        """The next CRLF-terminated line (without CRLF); None at the end of the body."""
        start = 0
        while (end := self._buffer.find(b"\r\n", start)) < 0:
            if len(self._buffer) > limit:
                raise _incomplete()
            start = max(0, len(self._buffer) - 1)
            if not await self._fill():
                if self._buffer:  # a line cut short
                    raise _incomplete()
                return None
        line = bytes(self._buffer[:end])
        del self._buffer[:end + 2]
        return line

    async def pieces(self, count: int) -> AsyncIterator[bytes]:
        """Exactly `count` bytes, as they arrive."""
        while count > 0:
            if not self._buffer and not await self._fill():
                raise _incomplete()
            take = min(count, len(self._buffer))
            piece = bytes(self._buffer[:take])
            del self._buffer[:take]
            count -= take
            yield piece

    async def at_end(self) -> bool:
        return not self._buffer and not await self._fill() and not self._buffer


class AwsChunkedDecoder:
    """Async iterator of the decoded bytes of an aws-chunked body."""

    def __init__(self, source: AsyncIterator[bytes], *, decoded_length: int | None = None,
                 signing: SigningContext | None = None, signed_trailer: bool = False,
                 trailer_names: tuple[str, ...] = (), max_signed_chunk: int = MAX_SIGNED_CHUNK) -> None:
        self._reader = _ByteReader(source)
        self._decoded_length = decoded_length
        self._signing = signing
        self._signed_trailer = signed_trailer and signing is not None
        self._trailer_names = tuple(name.lower() for name in trailer_names)
        self._max_signed_chunk = max_signed_chunk
        self._previous = signing.seed_signature if signing else ""
        # Checksums for the trailers the client announced (x-amz-trailer: x-amz-checksum-crc32).
        self._checksums: dict[str, Checksum] = {
            name: new_checksum(CHECKSUM_ALGORITHMS[name]) for name in self._trailer_names if name in CHECKSUM_ALGORITHMS}
        self.decoded_bytes = 0
        self.trailers: dict[str, str] = {}
        self.done = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._decode()

    @property
    def checksums(self) -> dict[str, str]:
        """Base64 checksums of the decoded bytes, by trailer name (final once iteration ends)."""
        return {name: checksum.b64digest() for name, checksum in self._checksums.items()}

    async def _decode(self) -> AsyncIterator[bytes]:
        while True:
            line = await self._reader.readline(_MAX_LINE)
            if line is None:
                raise _incomplete()
            size, chunk_signature = self._chunk_header(line)
            if self._signing is not None:
                async for piece in self._signed_chunk(size, chunk_signature):
                    yield piece
            else:
                async for piece in self._reader.pieces(size):
                    self._account(piece)
                    yield piece
            if size == 0:
                break
            if await self._reader.readline(2) != b"":
                raise _incomplete()
        await self._read_trailers()
        self._finish()

    def _chunk_header(self, line: bytes) -> tuple[int, str | None]:
        size_text, _, extensions = line.partition(b";")
        size_text = size_text.strip()
        if not size_text or len(size_text) > 16 or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
            raise _incomplete()
        signature = None
        for extension in extensions.split(b";"):
            name, _, value = extension.partition(b"=")
            if name.strip() == b"chunk-signature":
                signature = value.strip().decode("ascii", "replace")
        return int(size_text, 16), signature

    async def _signed_chunk(self, size: int, claimed: str | None) -> AsyncIterator[bytes]:
        if claimed is None:
            raise errors.SignatureDoesNotMatch(_CHUNK_MISMATCH)
        if size > self._max_signed_chunk:
            raise _incomplete()
        held, digest = [], hashlib.sha256()
        async for piece in self._reader.pieces(size):
            held.append(piece)
            digest.update(piece)
        self._previous = self._check_signature(claimed, "AWS4-HMAC-SHA256-PAYLOAD", EMPTY_SHA256, digest.hexdigest())
        for piece in held:
            self._account(piece)
            yield piece

    def _check_signature(self, claimed: str, algorithm: str, *hashes: str) -> str:
        expected = self._expected_signature(algorithm, *hashes)
        if not hmac.compare_digest(expected.encode(), claimed.encode("utf-8", "replace")):
            raise errors.SignatureDoesNotMatch(_CHUNK_MISMATCH)
        return expected

    def _expected_signature(self, algorithm: str, *hashes: str) -> str:
        signing = self._signing
        if signing is None:
            raise errors.SignatureDoesNotMatch(_CHUNK_MISMATCH)
        to_sign = "\n".join((algorithm, signing.timestamp, signing.scope, self._previous, *hashes))
        return signature(signing.signing_key, to_sign)

    def _account(self, piece: bytes) -> None:
        self.decoded_bytes += len(piece)
        if self._decoded_length is not None and self.decoded_bytes > self._decoded_length:
            raise _incomplete()
        for checksum in self._checksums.values():
            checksum.update(piece)

    async def _read_trailers(self) -> None:
        signature, total = None, 0
        while (line := await self._reader.readline(_MAX_LINE)) is not None and line != b"":
            total += len(line)
            name, colon, value = line.decode("utf-8", "replace").partition(":")
            name, value = name.strip().lower(), " ".join(value.split())
            if not colon or not name or total > _MAX_TRAILER_BYTES:
                raise _malformed_trailer()
            if name == _TRAILER_SIGNATURE:
                signature = value
            else:
                self.trailers[name] = f"{self.trailers[name]},{value}" if name in self.trailers else value
        if not await self._reader.at_end():
            raise _malformed_trailer()
        if self._signed_trailer:
            self._check_trailer_signature(signature)

    def _check_trailer_signature(self, claimed: str | None) -> None:
        """The trailers signed as canonical headers (sorted 'name:value\\n'), chained to the last chunk."""
        if claimed is None:
            raise errors.SignatureDoesNotMatch(_CHUNK_MISMATCH)
        canonical = "".join(f"{name}:{self.trailers[name]}\n" for name in sorted(self.trailers))
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        # The SDKs label this string AWS4-HMAC-SHA256-TRAILER, as the S3 docs say; the docs' own
        # worked example was computed with the -PAYLOAD label, so that one is honoured too.
        for algorithm in ("AWS4-HMAC-SHA256-TRAILER", "AWS4-HMAC-SHA256-PAYLOAD"):
            if hmac.compare_digest(self._expected_signature(algorithm, digest).encode(), claimed.encode("utf-8", "replace")):
                return
        raise errors.SignatureDoesNotMatch(_CHUNK_MISMATCH)

    def _finish(self) -> None:
        if self._decoded_length is not None and self.decoded_bytes != self._decoded_length:
            raise _incomplete()
        for name in self._trailer_names:
            if name not in self.trailers:
                raise _malformed_trailer()
        for name, checksum in self._checksums.items():
            if not _same_checksum(self.trailers[name], checksum.digest()):
                _check_encoding(name, self.trailers[name], len(checksum.digest()))
                raise BadDigest(f"The {CHECKSUM_ALGORITHMS[name]} you specified did not match the calculated checksum.")
        self.done = True


def _same_checksum(value: str, digest: bytes) -> bool:
    return hmac.compare_digest(value.encode("ascii", "replace"), base64.b64encode(digest))


def _check_encoding(name: str, value: str, size: int) -> None:
    try:
        valid = len(base64.b64decode(value, validate=True)) == size
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise InvalidRequest(f"Value for {name} trailing header is invalid.")


# --- from a request --------------------------------------------------------------------------


def is_aws_chunked(req: HttpRequest) -> bool:
    mode = req.header("x-amz-content-sha256") or ""
    return mode.startswith("STREAMING-") or "aws-chunked" in _encodings(req.header("content-encoding"))


def decoder_for_request(req: HttpRequest, signing: SigningContext | None = None, *,
                        source: AsyncIterator[bytes] | None = None) -> AwsChunkedDecoder | None:
    """A decoder for the request's body when it is aws-chunked, else None.

    `signing` is what sigv4.verify returned; it is required for STREAMING-AWS4-HMAC-SHA256-*.
    The body comes from `source`, else req.stream, else req.body.
    """
    if not is_aws_chunked(req):
        return None
    mode = req.header("x-amz-content-sha256") or ""
    signed = mode in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER)
    if mode.startswith("STREAMING-AWS4-ECDSA"):
        raise InvalidRequest("SigV4a streaming payloads are not supported.")
    if signed and signing is None:
        raise errors.SignatureDoesNotMatch(_CHUNK_MISMATCH)
    decoded_length = req.header("x-amz-decoded-content-length")
    if decoded_length is None or not decoded_length.strip().isdigit():
        raise MissingContentLength("You must provide the Content-Length HTTP header.")
    trailer_names = tuple(n.strip().lower() for n in (req.header("x-amz-trailer") or "").split(",") if n.strip())
    return AwsChunkedDecoder(
        source if source is not None else req.stream if req.stream is not None else _once(req.body),
        decoded_length=int(decoded_length), signing=signing if signed else None,
        signed_trailer=mode == STREAMING_SIGNED_TRAILER, trailer_names=trailer_names)


def stored_content_encoding(content_encoding: str | None) -> str | None:
    """Content-Encoding to keep with the object: the header without 'aws-chunked' (None if nothing is left)."""
    kept = [e for e in (part.strip() for part in (content_encoding or "").split(",")) if e and e.lower() != "aws-chunked"]
    return ", ".join(kept) or None


def _encodings(content_encoding: str | None) -> list[str]:
    return [part.strip().lower() for part in (content_encoding or "").split(",")]


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body
