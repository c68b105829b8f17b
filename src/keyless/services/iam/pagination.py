"""Marker/MaxItems/IsTruncated pagination, the same for every IAM List* operation.

A marker is opaque to clients: here it is the position of the next item, base64-encoded, so a
client cannot mistake it for a name. Lists are materialized sorted, then sliced.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Sequence, TypeVar

from keyless.errors import ValidationError

T = TypeVar("T")
DEFAULT_MAX_ITEMS = 100


def encode_marker(position: int) -> str:
    return base64.urlsafe_b64encode(f"keyless:{position}".encode()).decode()


def decode_marker(marker: str) -> int:
    try:
        text = base64.urlsafe_b64decode(marker.encode()).decode()
        prefix, position = text.split(":", 1)
        if prefix != "keyless" or int(position) < 0:
            raise ValueError(text)
        return int(position)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("Invalid Marker.") from None


def paginate(items: Sequence[T], params: dict[str, Any]) -> tuple[list[T], dict[str, Any]]:
    """One page of `items` and the IsTruncated/Marker members to merge into the output."""
    start = decode_marker(params["Marker"]) if params.get("Marker") else 0
    size = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    page = list(items[start:start + size])
    end = start + len(page)
    if end < len(items):
        return page, {"IsTruncated": True, "Marker": encode_marker(end)}
    return page, {"IsTruncated": False}
