"""Identifier formats clients parse or show: request ids are version-4 UUIDs in the usual text form."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from keyless import ids


def test_request_ids_are_distinct_version_4_uuids() -> None:
    seen = set()
    for _ in range(5000):
        text = ids.request_id()
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
        seen.add(text)
    assert len(seen) == 5000


def test_event_ids_are_version_7_uuids_in_time_order_that_say_where_the_event_is() -> None:
    start = 1_790_000_000.0
    made = [ids.event_id(start + n / 1000, segment=n // 7, position=n % 7) for n in range(2000)]
    assert made == sorted(made) and len(set(made)) == 2000
    for text in made[:50]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, text)
    assert int(uuid.UUID(made[0]).hex[:12], 16) == int(start * 1000)  # milliseconds lead
    assert [ids.event_place(t) for t in made[:9]] == [(n // 7, n % 7) for n in range(9)]
    assert ids.event_place(ids.event_id(start, (1 << 42) - 1, 999)) == ((1 << 42) - 1, 999)
    assert ids.event_place(ids.request_id()) is None and ids.event_place("not-an-id") is None


@given(epoch=st.floats(0, 2**47 / 1000), segment=st.integers(0, (1 << 42) - 1), position=st.integers(0, (1 << 20) - 1))
def test_an_event_id_gives_back_its_place(epoch: float, segment: int, position: int) -> None:
    assert ids.event_place(ids.event_id(epoch, segment, position)) == (segment, position)


@given(st.text(max_size=40) | st.uuids().map(str))
def test_event_place_reads_any_text_without_failing(text: str) -> None:
    place = ids.event_place(text)
    assert place is None or ids.event_id(int(text[:8] + text[9:13], 16) / 1000, *place)[14:] == text[14:]
