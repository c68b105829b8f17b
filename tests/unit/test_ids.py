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


def test_event_ids_are_version_7_uuids_in_time_order() -> None:
    start = 1_790_000_000.0
    made = [ids.event_id(start + n / 1000) for n in range(2000)]
    assert made == sorted(made) and len(set(made)) == 2000
    for text in made[:50]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, text)
    assert int(uuid.UUID(made[0]).hex[:12], 16) == int(start * 1000)  # milliseconds lead
