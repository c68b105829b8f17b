"""A strict JSON reader that remembers where each object starts and ends.

The Simulate* APIs report each matched statement's StartPosition/EndPosition (line and column),
which the standard `json` module cannot give. This reader returns the same values as `json.loads`
(objects as `JsonObject`, a dict that also carries its brace offsets) and is only used when a
policy is compiled, never per request.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

MAX_DEPTH = 64  # policies are a few levels deep; anything deeper is not a policy

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS = (("true", True), ("false", False), ("null", None))


class JsonSyntaxError(ValueError):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.offset = offset


class JsonObject(dict):  # type: ignore[type-arg]
    """A JSON object plus the offsets of its `{` and `}` in the source text."""

    __slots__ = ("start", "end")

    def __init__(self, start: int) -> None:
        super().__init__()
        self.start = start
        self.end = start


def loads(text: str) -> Any:
    reader = _Reader(text)
    value = reader.value(0)
    reader.skip_whitespace()
    if reader.pos != len(text):
        raise JsonSyntaxError("extra data", reader.pos)
    return value


class LineIndex:
    """Offsets to 1-based (line, column) pairs."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def line_column(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_whitespace(self) -> None:
        self.pos = _WHITESPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise JsonSyntaxError("nested too deeply", self.pos)
        self.skip_whitespace()
        text, pos = self.text, self.pos
        char = text[pos : pos + 1]
        if char == "{":
            return self.object(depth)
        if char == "[":
            return self.array(depth)
        if char == '"':
            return self.string()
        for word, value in _LITERALS:
            if text.startswith(word, pos):
                self.pos = pos + len(word)
                return value
        return self.number()

    def string(self) -> str:
        try:
            value, self.pos = scanstring(self.text, self.pos + 1, True)
        except ValueError as exc:
            raise JsonSyntaxError(str(exc), self.pos) from None
        return str(value)

    def number(self) -> int | float:
        match = _NUMBER.match(self.text, self.pos)
        if match is None:
            raise JsonSyntaxError("expected a value", self.pos)
        self.pos = match.end()
        if match.group(1) or match.group(2):
            return float(match.group())
        return int(match.group())

    def expect(self, char: str) -> None:
        self.skip_whitespace()
        if self.text[self.pos : self.pos + 1] != char:
            raise JsonSyntaxError(f"expected {char!r}", self.pos)
        self.pos += 1

    def peek_is(self, char: str) -> bool:
        self.skip_whitespace()
        if self.text[self.pos : self.pos + 1] == char:
            self.pos += 1
            return True
        return False

    def object(self, depth: int) -> JsonObject:
        obj = JsonObject(self.pos)
        self.pos += 1
        if not self.peek_is("}"):
            while True:
                self.skip_whitespace()
                if self.text[self.pos : self.pos + 1] != '"':
                    raise JsonSyntaxError("expected a member name", self.pos)
                key = self.string()
                self.expect(":")
                obj[key] = self.value(depth + 1)
                if self.peek_is("}"):
                    break
                self.expect(",")
        obj.end = self.pos - 1
        return obj

    def array(self, depth: int) -> list[Any]:
        self.pos += 1
        items: list[Any] = []
        if self.peek_is("]"):
            return items
        while True:
            items.append(self.value(depth + 1))
            if self.peek_is("]"):
                return items
            self.expect(",")
