"""Scalar values on the wire: timestamps, booleans, numbers and blobs, both directions.

Parsers raise `BadValue` (internal) for text that is not of the expected type; each protocol
turns it into its own error (ValidationError, InvalidParameterValue, SerializationException,
InvalidArgument/MalformedXML) once it knows where the value was.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import math
from datetime import datetime, timedelta, timezone
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

UTC = timezone.utc


class BadValue(Exception):
    """A wire value that does not parse as its shape's type. `path` grows as the error unwinds."""

    def __init__(self, value: Any, expected: str) -> None:
        super().__init__(f"{value!r} is not a valid {expected}")
        self.value = value
        self.expected = expected
        self.path: list[str | int] = []


# --- text -> value -------------------------------------------------------------------------------


def parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise BadValue(text, "integer") from None


def parse_float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise BadValue(text, "number") from None


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise BadValue(text, "boolean")


def parse_blob(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadValue(text, "base64 blob") from None


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 (any precision, Z or offset), epoch seconds, or RFC 822/1123 — whatever the
    clients send; always an aware UTC datetime."""
    text = text.strip()
    if not text:
        raise BadValue(text, "timestamp")
    if text[0].isdigit() and ("-" in text[:5] or "T" in text):
        try:
            return _aware(datetime.fromisoformat(text))
        except ValueError:
            pass
    try:
        return epoch_to_datetime(Decimal(text))
    except (InvalidOperation, ValueError, OverflowError):
        pass
    try:
        return _aware(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        raise BadValue(text, "timestamp") from None


def epoch_to_datetime(value: Decimal | int | float) -> datetime:
    """Exact for decimal text: JSON epoch floats carry microseconds."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not finite")
        value = Decimal(repr(value))
    exact = Decimal(value)
    seconds = int(exact.to_integral_value(rounding=ROUND_FLOOR))
    micros = int(((exact - seconds) * 1_000_000).to_integral_value())
    return _EPOCH + timedelta(seconds=seconds, microseconds=micros)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- value -> text -------------------------------------------------------------------------------


def to_datetime(value: Any) -> datetime:
    """Handlers may return datetimes, epoch numbers or ISO strings for timestamp members."""
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return epoch_to_datetime(value)
    if isinstance(value, str):
        return parse_timestamp(value)
    raise TypeError(f"not a timestamp: {value!r}")


def iso8601(value: Any) -> str:
    """2026-11-28T10:00:00Z; fractions only when present (milliseconds when they suffice)."""
    dt = to_datetime(value)
    base = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    micros = dt.microsecond
    if not micros:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


def rfc822(value: Any) -> str:
    """Wed, 21 Oct 2015 07:28:00 GMT (HTTP date; whole seconds)."""
    return format_datetime(to_datetime(value).replace(microsecond=0), usegmt=True)


def epoch(value: Any) -> int | float:
    """Epoch seconds: an int when whole, else a float rounded once (as botocore does)."""
    dt = to_datetime(value)
    seconds = calendar.timegm(dt.timetuple())
    if not dt.microsecond:
        return seconds
    return (seconds * 10**6 + dt.microsecond) / 10**6


def format_timestamp(value: Any, fmt: str | None, default: str) -> str | int | float:
    fmt = (fmt or default).lower()
    if fmt == "unixtimestamp":
        return epoch(value)
    if fmt == "rfc822":
        return rfc822(value)
    return iso8601(value)


def bool_text(value: Any) -> str:
    if isinstance(value, str):
        return "true" if value.lower() == "true" else "false"
    return "true" if value else "false"


def float_text(value: Any) -> str:
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return repr(number)


def blob_text(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(bytes(value)).decode("ascii")
