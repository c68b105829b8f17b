"""Identifier formats clients parse or show: request ids are version-4 UUIDs in the usual text form."""

from __future__ import annotations

import uuid

from keyless import ids


def test_request_ids_are_distinct_version_4_uuids() -> None:
    seen = set()
    for _ in range(5000):
        text = ids.request_id()
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
        seen.add(text)
    assert len(seen) == 5000
