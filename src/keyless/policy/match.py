"""Wildcard matching, compiled once.

Actions: case-insensitive, `*` and `?` [act]. Resources: case-sensitive; `*` runs across `:` and
`/` (`arn:aws:s3:::logs*` matches `arn:aws:s3:::logs/key`) [res]. Every pattern is escaped with
`re.escape` before its wildcards are turned into regex, and the common shapes (`*`, exact names,
`prefix*`) skip the regex engine entirely.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

Matcher = Callable[[str], bool]

_WILDCARD = re.compile(r"[*?]")


def glob_to_regex(pattern: str) -> str:
    """`*` -> any run, `?` -> one character, everything else literal."""
    return "".join(
        ".*" if part == "*" else "." if part == "?" else re.escape(part)
        for part in re.split(r"([*?])", pattern)
        if part
    )


def _always(_: str) -> bool:
    return True


def _never(_: str) -> bool:
    return False


def compile_globs(patterns: Iterable[str]) -> Matcher:
    """One matcher for a list of patterns (OR). Callers lower-case both sides for actions."""
    exact: set[str] = set()
    prefixes: list[str] = []
    regexes: list[str] = []
    for pattern in patterns:
        if pattern == "*":
            return _always
        wildcards = _WILDCARD.findall(pattern)
        if not wildcards:
            exact.add(pattern)
        elif wildcards == ["*"] and pattern.endswith("*"):
            prefixes.append(pattern[:-1])
        else:
            regexes.append(glob_to_regex(pattern))
    return _combine(frozenset(exact), tuple(prefixes), regexes)


def _combine(exact: frozenset[str], prefixes: tuple[str, ...], regexes: list[str]) -> Matcher:
    fullmatch = re.compile("|".join(f"(?:{r})" for r in regexes), re.DOTALL).fullmatch if regexes else None
    if not prefixes and fullmatch is None:
        if not exact:
            return _never
        if len(exact) == 1:
            (only,) = exact
            return only.__eq__
        return exact.__contains__
    if not exact and fullmatch is None:
        return lambda value: value.startswith(prefixes)

    def match(value: str) -> bool:
        return value in exact or value.startswith(prefixes) or (fullmatch is not None and fullmatch(value) is not None)

    return match


_REGEX_CACHE: dict[str, "re.Pattern[str]"] = {}


def cached_regex(source: str) -> "re.Pattern[str]":
    """Compiled regex for a pattern built at request time (policy variables); bounded."""
    pattern = _REGEX_CACHE.get(source)
    if pattern is None:
        if len(_REGEX_CACHE) > 4096:
            _REGEX_CACHE.clear()
        pattern = _REGEX_CACHE[source] = re.compile(source, re.DOTALL)
    return pattern
