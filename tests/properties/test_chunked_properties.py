"""aws-chunked properties: any data, cut into any chunks, delivered in any pieces, decodes back to
itself (unsigned bodies framed by botocore's AwsChunkedWrapper, signed ones per the S3 docs); and no
single-bit corruption of the wire ever decodes to different bytes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
from typing import AsyncIterator, Iterable

from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keyless import errors
from keyless.auth import sigv4
from keyless.auth.chunked import AwsChunkedDecoder

SIGNING = sigv4.SigningContext(
    signing_key=sigv4.signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20261128", "us-east-1", "s3"),
    timestamp="20261128T103510Z", scope="20261128/us-east-1/s3/aws4_request", seed_signature="5" * 64)
TRAILER = "x-amz-checksum-crc32"


class _Planned(io.RawIOBase):
    def __init__(self, data: bytes, sizes: Iterable[int]) -> None:
        self._data, self._sizes, self._pos = data, iter(sizes), 0

    def read(self, size: int = -1) -> bytes:
        step = next(self._sizes, 64)
        piece = self._data[self._pos:self._pos + step]
        self._pos += len(piece)
        return piece


def unsigned_wire(data: bytes, sizes: list[int]) -> bytes:
    """Framed by botocore itself, with its CRC32 trailer."""
    return AwsChunkedWrapper(_Planned(data, [s for s in sizes if s]), checksum_cls=Crc32Checksum,
                             checksum_name=TRAILER).read()


def _sign(*lines: str) -> str:
    return hmac.new(SIGNING.signing_key, "\n".join(lines).encode(), hashlib.sha256).hexdigest()


def signed_wire(data: bytes, sizes: list[int], checksum: str | None) -> bytes:
    """Framed and signed as the S3 sigv4-streaming(-trailers) docs define it."""
    chunks, pos = [], 0
    for size in [s for s in sizes if s] + [len(data)]:
        if pos < len(data):
            chunks.append(data[pos:pos + size])
            pos += size
    wire, previous = bytearray(), SIGNING.seed_signature
    for chunk in [*chunks, b""]:
        previous = _sign("AWS4-HMAC-SHA256-PAYLOAD", SIGNING.timestamp, SIGNING.scope, previous, sigv4.EMPTY_SHA256,
                         hashlib.sha256(chunk).hexdigest())
        wire += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk + (b"\r\n" if chunk else b"")
    if checksum is not None:
        trailer = f"{TRAILER}:{checksum}"
        signature = _sign("AWS4-HMAC-SHA256-TRAILER", SIGNING.timestamp, SIGNING.scope, previous,
                          hashlib.sha256((trailer + "\n").encode()).hexdigest())
        wire += f"{trailer}\r\nx-amz-trailer-signature:{signature}\r\n".encode()
    return bytes(wire + b"\r\n")


async def _pieces(wire: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in sorted({c % (len(wire) + 1) for c in cuts}):
        yield wire[start:cut]
        start = cut
    yield wire[start:]


def decode(wire: bytes, cuts: list[int], length: int, *, signed: bool, trailer: bool) -> tuple[bytes, dict[str, str]]:
    decoder = AwsChunkedDecoder(_pieces(wire, cuts), decoded_length=length, signing=SIGNING if signed else None,
                                signed_trailer=signed and trailer, trailer_names=(TRAILER,) if trailer else ())

    async def drain() -> bytes:
        return b"".join([piece async for piece in decoder])

    return asyncio.run(drain()), decoder.trailers


def crc32_b64(data: bytes) -> str:
    checksum = Crc32Checksum()
    checksum.update(data)
    return checksum.b64digest()


data_st = st.binary(max_size=3000)
sizes_st = st.lists(st.integers(0, 1500), max_size=8)
cuts_st = st.lists(st.integers(0, 10_000), max_size=12)


@given(data=data_st, sizes=sizes_st, cuts=cuts_st)
@example(data=b"", sizes=[], cuts=[])
@example(data=b"x" * 10, sizes=[1, 1, 1], cuts=[1, 2, 3, 4, 5, 6, 7])
def test_unsigned_round_trip(data: bytes, sizes: list[int], cuts: list[int]) -> None:
    decoded, trailers = decode(unsigned_wire(data, sizes), cuts, len(data), signed=False, trailer=True)
    assert decoded == data
    assert trailers == {TRAILER: crc32_b64(data)}


@given(data=data_st, sizes=sizes_st, cuts=cuts_st, trailer=st.booleans())
@example(data=b"", sizes=[], cuts=[], trailer=True)
def test_signed_round_trip(data: bytes, sizes: list[int], cuts: list[int], trailer: bool) -> None:
    wire = signed_wire(data, sizes, crc32_b64(data) if trailer else None)
    decoded, trailers = decode(wire, cuts, len(data), signed=True, trailer=trailer)
    assert decoded == data
    assert trailers == ({TRAILER: crc32_b64(data)} if trailer else {})


def _flip(wire: bytes, position: int, bit: int) -> bytes:
    corrupted = bytearray(wire)
    corrupted[position % len(corrupted)] ^= 1 << bit
    return bytes(corrupted)


def _outcome(wire: bytes, cuts: list[int], length: int, *, signed: bool) -> tuple[bytes, dict[str, str]] | None:
    try:
        return decode(wire, cuts, length, signed=signed, trailer=True)
    except errors.AwsError:
        return None


@settings(max_examples=150)
@given(data=st.binary(min_size=1, max_size=600), sizes=sizes_st, cuts=cuts_st,
       position=st.integers(0, 100_000), bit=st.integers(0, 7), signed=st.booleans())
def test_corruption_never_yields_different_bytes(data: bytes, sizes: list[int], cuts: list[int], position: int,
                                                bit: int, signed: bool) -> None:
    wire = signed_wire(data, sizes, crc32_b64(data)) if signed else unsigned_wire(data, sizes)
    outcome = _outcome(_flip(wire, position, bit), cuts, len(data), signed=signed)
    # Refused, or (for a flip the format cannot see, such as the case of a hex digit or of a
    # trailer name) exactly the original bytes and trailers.
    assert outcome is None or outcome == (data, {TRAILER: crc32_b64(data)})


@settings(max_examples=100)
@given(data=st.binary(min_size=1, max_size=600), sizes=sizes_st, position=st.integers(0, 100_000),
       bit=st.integers(0, 7))
def test_signed_corruption_of_data_or_signatures_is_refused(data: bytes, sizes: list[int], position: int,
                                                           bit: int) -> None:
    wire = signed_wire(data, sizes, crc32_b64(data))
    position %= len(wire)
    # Every byte of chunk data and every signature character is covered by a signature.
    payload_or_signature = _covered_positions(wire)
    if position in payload_or_signature:
        assert _outcome(_flip(wire, position, bit), [], len(data), signed=True) is None


def _covered_positions(wire: bytes) -> set[int]:
    covered: set[int] = set()
    pos = 0
    while True:
        header_end = wire.index(b"\r\n", pos)
        size_text, _, ext = wire[pos:header_end].partition(b";")
        size = int(size_text, 16)
        sig_start = pos + len(size_text) + 1 + len(b"chunk-signature=")
        covered.update(range(sig_start, sig_start + 64))
        covered.update(range(header_end + 2, header_end + 2 + size))
        pos = header_end + 2 + size + (2 if size else 0)
        if size == 0:
            break
    marker = wire.index(b"x-amz-trailer-signature:", pos) + len(b"x-amz-trailer-signature:")
    covered.update(range(marker, marker + 64))
    return covered
