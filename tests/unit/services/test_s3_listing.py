"""The listing algorithm against a brute-force model of S3's ListObjects semantics."""

from __future__ import annotations

import bisect
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keyless.services.s3 import listing
from keyless.services.s3.errors import InvalidArgument


def fetcher(keys: list[str]) -> Any:
    ordered = sorted(set(keys), key=lambda k: k.encode("utf-8"))

    def fetch(start: str, inclusive: bool, limit: int) -> list[dict[str, Any]]:
        i = (bisect.bisect_left if inclusive else bisect.bisect_right)(ordered, start)
        return [{"key": k} for k in ordered[i:i + limit]]

    return fetch


def brute_force(keys: list[str], prefix: str, delimiter: str) -> list[tuple[str, str]]:
    """Everything a full listing returns, in order: ('key', k) and ('prefix', p) entries."""
    out: list[tuple[str, str]] = []
    for key in sorted(set(keys), key=lambda k: k.encode("utf-8")):
        if not key.startswith(prefix):
            continue
        group = listing.common_prefix(key, prefix, delimiter)
        entry = ("prefix", group) if group is not None else ("key", key)
        if not out or out[-1] != entry:
            out.append(entry)
    return out


def paged(keys: list[str], prefix: str, delimiter: str, max_keys: int) -> list[tuple[str, str]]:
    fetch = fetcher(keys)
    out: list[tuple[str, str]] = []
    after = None
    for _ in range(len(keys) + 2):
        page = listing.list_page(fetch, prefix=prefix, delimiter=delimiter, max_keys=max_keys, after=after)
        entries = [("key", r["key"]) for r in page.contents] + [("prefix", p) for p in page.common_prefixes]
        out.extend(sorted(entries, key=lambda e: e[1].encode("utf-8")))
        assert len(entries) <= max_keys
        if not page.truncated:
            return out
        after = listing.decode_token(listing.encode_token(page.last or ""))
    raise AssertionError("listing did not terminate")


KEY_ALPHABET = st.sampled_from(["a", "b", "/", "-", "é", "\U0010FFFF", "z", "\x00"])
KEYS = st.lists(st.text(KEY_ALPHABET, min_size=1, max_size=6), max_size=25)


@settings(max_examples=300, deadline=None)
@given(KEYS, st.text(KEY_ALPHABET, max_size=2), st.sampled_from(["", "/", "-", "ab"]), st.integers(1, 5))
@example(["a/b", "a/c", "b"], "", "/", 1)
@example(["a\U0010FFFF/x", "a\U0010FFFF/y", "b"], "", "/", 1)
def test_pages_concatenate_to_the_full_listing(keys: list[str], prefix: str, delimiter: str, max_keys: int) -> None:
    assert paged(keys, prefix, delimiter, max_keys) == brute_force(keys, prefix, delimiter)


def test_common_prefixes_count_against_max_keys() -> None:
    fetch = fetcher(["photos/2023/a", "photos/2024/b", "photos/x.jpg", "readme"])
    page = listing.list_page(fetch, prefix="photos/", delimiter="/", max_keys=2)
    assert page.common_prefixes == ["photos/2023/", "photos/2024/"]
    assert page.contents == [] and page.truncated and page.last == "photos/2024/"
    rest = listing.list_page(fetch, prefix="photos/", delimiter="/", max_keys=2, after=page.last)
    assert [r["key"] for r in rest.contents] == ["photos/x.jpg"] and not rest.truncated


def test_start_after_a_key_inside_a_group_still_returns_the_group() -> None:
    fetch = fetcher(["a/b", "a/c", "b"])
    page = listing.list_page(fetch, delimiter="/", after="a/b")
    assert page.common_prefixes == ["a/"] and [r["key"] for r in page.contents] == ["b"]


def test_marker_naming_a_group_skips_it() -> None:
    page = listing.list_page(fetcher(["a/b", "a/c", "b"]), delimiter="/", after="a/")
    assert page.common_prefixes == [] and [r["key"] for r in page.contents] == ["b"]


def test_max_keys_zero_returns_nothing() -> None:
    page = listing.list_page(fetcher(["a"]), max_keys=0)
    assert page.contents == [] and not page.truncated


def test_successor_orders_after_every_extension() -> None:
    assert listing.successor("a/") == "a0"
    assert listing.successor("a\U0010FFFF") == "b"
    assert listing.successor("\U0010FFFF") is None
    assert listing.successor("\ud7ff") == "\ue000"


@pytest.mark.parametrize("token", ["", "!!!", "bm9wZQ", "azE6/w"])
def test_bad_continuation_tokens_are_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument):
        listing.decode_token(token)


def test_url_encoding_round_trips_through_botocores_decoder() -> None:
    from botocore.compat import unquote_str

    for key in ["a b+c/d", "ü/%2F", "\x01\x7f", "plain"]:
        assert unquote_str(listing.url_encode(key)) == key
