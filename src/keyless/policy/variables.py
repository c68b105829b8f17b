"""Policy variables [vars]: `${aws:username}`, `${aws:PrincipalTag/team, 'none'}`, `${*}` `${?}` `${$}`.

A string that may hold variables is parsed once into a Template: literal text (whose `*`/`?` stay
wildcards where the operator has them), escaped characters (always literal) and variables. Under
Version 2008-10-17 nothing is substituted and `${...}` is ordinary text [ver].
Variables take single-valued keys only; an unresolvable one makes the template unresolvable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Union

from keyless.policy.match import glob_to_regex

# `${key}` or `${key, 'default'}`; keys are case-insensitive like every context key.
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_KEY_WITH_DEFAULT = re.compile(r"^\s*([^,\s']+)\s*(?:,\s*'([^']*)'\s*)?$")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}

Lookup = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class Text:
    text: str  # may contain wildcards


@dataclass(frozen=True, slots=True)
class Char:
    char: str  # `${*}` and friends: always literal


@dataclass(frozen=True, slots=True)
class Variable:
    key: str  # lower-cased context key
    default: str | None
    spelled: str = field(default="", compare=False)  # as written: the fast lookup tries it first


Part = Union[Text, Char, Variable]


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    parts: tuple[Part, ...]
    # Regex pieces computed once: None marks where a variable's escaped value goes.
    regex_pieces: tuple[str | None, ...] = field(default=(), compare=False, repr=False)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.parts if isinstance(p, Variable))

    def _values(self, lookup: Lookup) -> list[tuple[str, bool]] | None:
        """(piece, is_pattern_text) pairs, or None when a variable has no value and no default."""
        pieces: list[tuple[str, bool]] = []
        for part in self.parts:
            if isinstance(part, Text):
                pieces.append((part.text, True))
            elif isinstance(part, Char):
                pieces.append((part.char, False))
            else:
                value = lookup(part.spelled or part.key)
                if value is None:
                    value = part.default
                if value is None:
                    return None
                pieces.append((value, False))
        return pieces

    def text(self, lookup: Lookup) -> str | None:
        pieces = self._values(lookup)
        return None if pieces is None else "".join(piece for piece, _ in pieces)

    def regex(self, lookup: Lookup) -> str | None:
        """Regex source where only the policy's own `*`/`?` are wildcards."""
        out = []
        for piece, part in zip(self.regex_pieces, self.parts):
            if piece is None:
                value = lookup(part.spelled or part.key)  # type: ignore[union-attr]
                if value is None:
                    value = part.default  # type: ignore[union-attr]
                if value is None:
                    return None
                piece = re.escape(value)
            out.append(piece)
        return "".join(out)


def parse_template(source: str) -> Template | None:
    """A Template when `source` uses `${...}`; None for a plain string (the fast, common case)."""
    if "${" not in source:
        return None
    parts: list[Part] = []
    position = 0
    for match in _VARIABLE.finditer(source):
        if match.start() > position:
            parts.append(Text(source[position : match.start()]))
        parts.append(_part(match.group(1), match.group(0)))
        position = match.end()
    if position < len(source):
        parts.append(Text(source[position:]))
    return Template(source, tuple(parts), tuple(_regex_piece(p) for p in parts))


def _regex_piece(part: Part) -> str | None:
    if isinstance(part, Text):
        return glob_to_regex(part.text)
    if isinstance(part, Char):
        return re.escape(part.char)
    return None


def _part(inner: str, whole: str) -> Part:
    if inner in _ESCAPES:
        return Char(_ESCAPES[inner])
    match = _KEY_WITH_DEFAULT.match(inner)
    if match is None:
        return Text(whole)  # not a variable: matched as written
    return Variable(match.group(1).lower(), match.group(2), match.group(1))
