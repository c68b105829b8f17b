"""Conditional requests and byte ranges, as S3 applies them to GET/HEAD (and copy sources).

Preconditions follow RFC 7232 section 6, which gives S3's documented combinations:
If-Match true + If-Unmodified-Since false -> 200; If-None-Match false + If-Modified-Since true -> 304.
Times compare at one-second resolution, the resolution of Last-Modified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from keyless.services.s3.errors import InvalidRange, NotModified, PreconditionFailed

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def etag_matches(header: str, etag: str) -> bool:
    """If-Match / If-None-Match lists: `*`, or quoted (optionally weak) tags separated by commas."""
    bare = etag.strip('"')
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate.strip('"') == bare:
            return True
    return False


def _epoch(value: Any) -> int | None:
    """A timestamp member as whole seconds (parsers give datetimes; tolerate strings)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(moment.timestamp())
    if isinstance(value, (int, float)):
        return int(value)
    try:
        return int(parsedate_to_datetime(str(value)).timestamp())
    except (TypeError, ValueError):
        return None  # S3 ignores a date it cannot parse


def check_preconditions(etag: str, modified: float, *, if_match: str | None = None, if_none_match: str | None = None,
                        if_modified_since: Any = None, if_unmodified_since: Any = None,
                        names: tuple[str, str, str, str] = ("If-Match", "If-None-Match", "If-Modified-Since",
                                                            "If-Unmodified-Since")) -> None:
    """Raise PreconditionFailed (412) or NotModified (304) as the headers demand."""
    seconds = int(modified)
    if if_match:
        if not etag_matches(if_match, etag):
            raise PreconditionFailed(Condition=names[0])
    else:
        since = _epoch(if_unmodified_since)
        if since is not None and seconds > since:
            raise PreconditionFailed(Condition=names[3])
    if if_none_match:
        if etag_matches(if_none_match, etag):
            raise NotModified(ETag=etag)
    else:
        since = _epoch(if_modified_since)
        if since is not None and seconds <= since:
            raise NotModified(ETag=etag)


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """A single `bytes=` range, clamped to the object; None means the whole object (no header, or
    one S3 ignores: malformed or several ranges). An unsatisfiable range raises InvalidRange."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise _unsatisfiable(header, size)
        return ByteRange(max(0, size - count), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # syntactically invalid: ignored (RFC 7233)
    if start >= size:
        raise _unsatisfiable(header, size)
    return ByteRange(start, min(end, size - 1))


def _unsatisfiable(header: str, size: int) -> InvalidRange:
    return InvalidRange(RangeRequested=header, ActualObjectSize=str(size))


def part_range(part_sizes: list[int] | None, size: int, part_number: int) -> ByteRange:
    """GetObject?partNumber=N: the byte range of part N (a single-part object has only part 1)."""
    sizes = part_sizes or [size]
    if not 1 <= part_number <= len(sizes):
        raise InvalidRange("The requested partnumber is not satisfiable", PartNumberRequested=str(part_number),
                           ActualPartCount=str(len(sizes)))
    start = sum(sizes[: part_number - 1])
    return ByteRange(start, start + sizes[part_number - 1] - 1)
