"""The request context as conditions and variables read it.

Context key names are case-insensitive [cond], so lookups use lower-case names; the caller's
mapping is lower-cased lazily, once per request, and only if a condition or variable asks.
Values may be strings, lists of strings, booleans or numbers; conditions see them as strings.
"""

from __future__ import annotations

from typing import Any, Mapping


def as_strings(value: Any) -> tuple[str, ...] | None:
    """A context value as a tuple of strings; None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(as_string(item) for item in value)
    return (as_string(value),)


def as_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


class EvalContext:
    """Lookups try the name as written first (policies and keyless.auth mostly agree on the
    spelling) and fall back to a lower-cased copy of the context, built at most once."""

    __slots__ = ("_raw", "_lowered")

    def __init__(self, context: Mapping[str, Any]) -> None:
        self._raw = context
        self._lowered: dict[str, Any] | None = None

    def _get(self, key: str) -> Any:
        value = self._raw.get(key)
        if value is None:
            table = self._lowered
            if table is None:
                table = self._lowered = {name.lower(): v for name, v in self._raw.items()}
            value = table.get(key.lower())
        return value

    def values(self, key: str) -> tuple[str, ...] | None:
        """All values of a key (any case); None when the key is absent."""
        value = self._get(key)
        if value is None:
            return None
        if value.__class__ is str:
            return (value,)
        return as_strings(value)

    def single(self, key: str) -> str | None:
        """The value of a single-valued key, for policy variables; None if absent or multivalued."""
        value = self._get(key)
        if value is None or value.__class__ is str:
            return value
        if isinstance(value, (list, tuple)):
            return as_string(value[0]) if len(value) == 1 else None
        return as_string(value)

    def has(self, key: str) -> bool:
        return self._get(key) is not None
