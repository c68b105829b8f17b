"""EC2 Describe* filters and pagination.

Filters: values of one filter are OR-ed, filters are AND-ed; values may use `*` and `?`
wildcards; names are case-sensitive; an unknown name is InvalidParameterValue. Each Describe
operation declares its filter names as functions from an item to the item's values.
Pagination: MaxResults 5..1000; NextToken is opaque (base64url of the next offset).
"""

from __future__ import annotations

import base64
import json
import re
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from keyless.services.ec2.errors import InvalidParameterCombination, InvalidParameterValue

T = TypeVar("T")
Extractor = Callable[[Any], Iterable[str]]


@lru_cache(maxsize=1024)
def _pattern(value: str) -> re.Pattern[str]:
    """EC2 wildcards are only * and ? (no [sets]): escape everything, then let those two through."""
    return re.compile(re.escape(value).replace(r"\*", ".*").replace(r"\?", "."), re.DOTALL)


def _matches(value: str, wanted: Sequence[str]) -> bool:
    return any(_pattern(w).fullmatch(value) is not None if ("*" in w or "?" in w) else value == w for w in wanted)


def apply(items: list[T], filters: list[Mapping[str, Any]] | None, extractors: Mapping[str, Extractor],
          prefixed: Mapping[str, Callable[[Any, str], Iterable[str]]] | None = None) -> list[T]:
    """Keep the items every filter matches. `prefixed` handles families such as tag:KEY."""
    checks: list[Callable[[T], bool]] = []
    for spec in filters or ():
        name, wanted = spec.get("Name") or "", list(spec.get("Values") or ())
        checks.append(_check(name, wanted, extractors, prefixed or {}))
    return [item for item in items if all(check(item) for check in checks)]


def _check(name: str, wanted: list[str], extractors: Mapping[str, Extractor],
           prefixed: Mapping[str, Callable[[Any, str], Iterable[str]]]) -> Callable[[Any], bool]:
    if name in extractors:
        extract = extractors[name]
        return lambda item: any(_matches(v, wanted) for v in extract(item))
    for prefix, extract_keyed in prefixed.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            key = name[len(prefix):]
            return lambda item: any(_matches(v, wanted) for v in extract_keyed(item, key))
    raise InvalidParameterValue(f"The filter '{name}' is invalid")


def page(items: list[T], max_results: int | None, next_token: str | None) -> tuple[list[T], str | None]:
    """One page and the token for the next (None on the last page)."""
    if max_results is not None and not 5 <= max_results <= 1000:
        raise InvalidParameterValue(f"Value ( {max_results} ) for parameter maxResults is invalid. "
                                    "Expecting a value greater than 5.")
    start = _offset(next_token) if next_token else 0
    if max_results is None:
        return items[start:], None
    end = start + max_results
    return items[start:end], (_token(end) if end < len(items) else None)


def no_ids_with_max_results(ids: Sequence[str] | None, max_results: int | None, id_parameter: str) -> None:
    if ids and max_results is not None:
        raise InvalidParameterCombination(f"The parameter {id_parameter} cannot be used with the parameter maxResults")


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _offset(token: str) -> int:
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["o"]
    except (ValueError, KeyError, TypeError, RecursionError):  # any token keyless did not write
        raise InvalidParameterValue(f"Invalid value '{token}' for nextToken") from None
    if not isinstance(value, int) or value < 0:
        raise InvalidParameterValue(f"Invalid value '{token}' for nextToken")
    return value
