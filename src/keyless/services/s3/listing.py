"""Key listings as S3 computes them: prefix, delimiter roll-up into common prefixes, max-keys,
and a resumable position (continuation token, marker, start-after).

Pure: `list_page` pulls rows in key order through a `fetch(start, inclusive, limit)` callback,
so the algorithm is tested without a database and the store only needs an ordered range scan.
A common prefix is skipped in one step by restarting the scan at the prefix's successor.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Callable, Sequence
from urllib.parse import quote_plus

from keyless.services.s3.errors import InvalidArgument

Fetch = Callable[[str, bool, int], Sequence[dict[str, Any]]]
_BATCH = 1000
_MAX_CHAR = 0x10FFFF


@dataclass(frozen=True, slots=True)
class Page:
    contents: list[dict[str, Any]]  # rows, in key order
    common_prefixes: list[str]
    truncated: bool
    last: str | None  # the last key or common prefix returned (the next page starts after it)


def successor(text: str) -> str | None:
    """The smallest string greater than every string starting with `text` (None: there is none)."""
    chars = list(text)
    while chars:
        code = ord(chars[-1])
        if code < _MAX_CHAR:
            nxt = code + 1
            if 0xD800 <= nxt <= 0xDFFF:  # surrogates never occur in keys; UTF-8 order skips them too
                nxt = 0xE000
            chars[-1] = chr(nxt)
            return "".join(chars)
        chars.pop()
    return None


def common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    """The roll-up a key belongs to: prefix + everything up to and including the next delimiter."""
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return key[: at + len(delimiter)] if at >= 0 else None


def start_position(prefix: str, delimiter: str, after: str | None) -> tuple[str, bool] | None:
    """Where the scan begins: at the prefix, or just past `after` (a key, or a common prefix whose
    whole group was already returned). None: nothing can follow."""
    if not after or after < prefix:
        return prefix, True
    group = common_prefix(after, prefix, delimiter) if after.startswith(prefix) else None
    if group == after:
        # `after` names a common prefix (a NextMarker or token ending a page on one): the whole
        # group was returned as that one entry, so skip it. A key inside a group is a plain position.
        nxt = successor(after)
        return (nxt, True) if nxt is not None else None
    return after, False


def list_page(fetch: Fetch, *, prefix: str = "", delimiter: str = "", max_keys: int = 1000,
              after: str | None = None) -> Page:
    contents: list[dict[str, Any]] = []
    prefixes: list[str] = []
    position = start_position(prefix, delimiter, after)
    if max_keys <= 0 or position is None:
        return Page([], [], False, None)
    order: list[str] = []  # keys and common prefixes interleaved, as S3 counts them
    while len(order) <= max_keys and position is not None:
        rows = fetch(position[0], position[1], _BATCH)
        if not rows:
            break
        for row in rows:
            key = row["key"]
            if not key.startswith(prefix):
                return _page(contents, prefixes, order, max_keys)
            group = common_prefix(key, prefix, delimiter)
            if group is not None:
                prefixes.append(group)
                order.append(group)
                nxt = successor(group)
                position = (nxt, True) if nxt is not None else None
                break
            contents.append(row)
            order.append(key)
            position = (key, False)
            if len(order) > max_keys:
                break
        else:
            if len(rows) < _BATCH:
                break
    return _page(contents, prefixes, order, max_keys)


def _page(contents: list[dict[str, Any]], prefixes: list[str], order: list[str], max_keys: int) -> Page:
    if len(order) <= max_keys:
        return Page(contents, prefixes, False, order[-1] if order else None)
    extra = order[max_keys]  # one past the page: it exists, so the listing is truncated
    if prefixes and prefixes[-1] == extra:
        prefixes = prefixes[:-1]
    else:
        contents = contents[:-1]
    return Page(contents, prefixes, True, order[max_keys - 1])


# --- continuation tokens ----------------------------------------------------------------------


def encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(b"k1:" + last.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4))
        if raw.startswith(b"k1:"):
            return raw[3:].decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise InvalidArgument("The continuation token provided is incorrect", ArgumentName="continuation-token",
                          ArgumentValue=token)


def url_encode(value: str) -> str:
    """encoding-type=url: botocore decodes with unquote_plus, so '+' must travel as %2B."""
    return quote_plus(value, safe="/")
