"""The condition operators [ops], one small entry each.

An operator is four functions: `prepare` turns a policy value into something comparable once, at
compile time (raising ValueError when AWS would reject the document); `convert` does the same for a
request value per evaluation (None = can't be compared, so it matches nothing); `test` compares
the two; negated operators (`StringNotEquals`, `NotIpAddress`, ...) are the negation of their
positive twin over the same values, which gives AWS's "must differ from all values" rule.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from keyless.policy.match import compile_globs

Convert = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class Operator:
    name: str
    negated: bool
    prepare: Callable[[str], Any]
    convert: Convert
    test: Callable[[Any, Any], bool]
    variables: bool = False  # policy values may use ${...} [vars]
    equality: bool = False  # test is ==, so prepared values can live in a set
    wildcard: bool = False  # `*`/`?` in values are wildcards (so `${*}` must stay literal)


def _same(value: str) -> str:
    return value


def _fold(value: str) -> str:
    return value.casefold()


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _glob(value: str) -> Callable[[str], bool]:
    return compile_globs([value])


def _glob_test(value: str, matcher: Callable[[str], bool]) -> bool:
    return matcher(value)


# --- numbers --------------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_number(value: str) -> float:
    if _NUMBER.fullmatch(value.strip()) is None:
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _number_or_none(value: str) -> float | None:
    try:
        return parse_number(value)
    except ValueError:
        return None


# --- dates: W3C ISO 8601 or epoch seconds -----------------------------------------------------

_ISO = re.compile(
    r"(-?[0-9]{1,9})(?:-([0-9]{1,2})(?:-([0-9]{1,2}))?)?"
    r"(?:[tT](?:([0-9]{1,2})(?::([0-9]{1,2})(?::([0-9]{1,2})(?:\.([0-9]{1,9}))?)?)?)?)?"
    r"([zZ]|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_EPOCH_MAX = 2**63 - 1


def parse_date(value: str) -> float:
    """Seconds since the epoch. Raises ValueError for what IAM's parser refuses."""
    text = value.strip()
    if text.isdigit():
        number = int(text)
        if number > _EPOCH_MAX:
            raise ValueError("epoch out of range")
        return float(number)
    match = _ISO.fullmatch(text)
    if match is None:
        raise ValueError(f"not a date: {value!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    fields = (int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0))
    if not (1 <= fields[0] <= 12 and 1 <= fields[1] <= 31 and fields[2] <= 23 and fields[3] <= 59 and fields[4] <= 59):
        raise ValueError(f"date field out of range: {value!r}")
    if not 1 <= int(year) <= 9999:
        return math.copysign(math.inf, int(year))  # far past/future: still ordered correctly
    moment = datetime(int(year), *fields, tzinfo=timezone.utc) - _offset(zone)
    return moment.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)


def _offset(zone: str | None) -> timedelta:
    if not zone or zone in "zZ":
        return timedelta(0)
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError("bad time zone")
    delta = timedelta(hours=hours, minutes=minutes)
    return delta if zone[0] == "+" else -delta


_DATE_CACHE: dict[str, float | None] = {}


def _date_or_none(value: str) -> float | None:
    # aws:CurrentTime repeats within a second, so parsed request dates are worth keeping.
    cached = _DATE_CACHE.get(value, False)
    if cached is not False:
        return cached
    try:
        result: float | None = parse_date(value)
    except (ValueError, OverflowError):
        result = None
    if len(_DATE_CACHE) > 1024:
        _DATE_CACHE.clear()
    _DATE_CACHE[value] = result
    return result


# --- booleans, binary, IP addresses, ARNs -------------------------------------------------------


def _lower(value: str) -> str:
    return value.lower()


def _binary(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode("utf-8")


def _network(value: str) -> tuple[int, int, int]:
    """(version, network bits, mask): membership is then one AND and one compare."""
    network = ipaddress.ip_network(value.strip(), strict=False)
    return network.version, int(network.network_address), int(network.netmask)


_ADDRESSES: dict[str, tuple[int, int] | None] = {}


def _address(value: str) -> tuple[int, int] | None:
    # aws:SourceIp repeats across a client's requests; parsing is the slow part, so keep it.
    found = _ADDRESSES.get(value, False)
    if found is not False:
        return found  # type: ignore[return-value]
    try:
        address = ipaddress.ip_address(value.strip())
        parsed: tuple[int, int] | None = (address.version, int(address))
    except ValueError:
        parsed = None
    if len(_ADDRESSES) > 4096:
        _ADDRESSES.clear()
    _ADDRESSES[value] = parsed
    return parsed


def _in_network(address: tuple[int, int], network: tuple[int, int, int]) -> bool:
    return address[0] == network[0] and (address[1] & network[2]) == network[1]


def _arn_pattern(value: str) -> tuple[Callable[[str], bool], ...]:
    # Each of the six colon-separated parts is matched on its own: `*` never spans a `:` there.
    if value == "*":
        return (compile_globs([value]),)
    parts = value.split(":", 5)
    if len(parts) != 6:
        return (compile_globs([]),)  # not an ARN pattern: matches no ARN
    return tuple(compile_globs([part]) for part in parts)


def _arn_parts(value: str) -> tuple[str, ...] | None:
    parts = value.split(":", 5)
    return tuple(parts) if len(parts) == 6 and parts[0] == "arn" else None


def _arn_test(parts: tuple[str, ...], pattern: tuple[Callable[[str], bool], ...]) -> bool:
    if len(pattern) == 1:
        return pattern[0](":".join(parts))
    return all(match(part) for match, part in zip(pattern, parts))


def _pair(name: str, negated_name: str, **fields: Any) -> list[Operator]:
    return [Operator(name, False, **fields), Operator(negated_name, True, **fields)]


def _comparisons(prefix: str, prepare: Callable[[str], Any], convert: Convert) -> list[Operator]:
    ordered: dict[str, Callable[[Any, Any], bool]] = {
        "LessThan": lambda a, b: bool(a < b),
        "LessThanEquals": lambda a, b: bool(a <= b),
        "GreaterThan": lambda a, b: bool(a > b),
        "GreaterThanEquals": lambda a, b: bool(a >= b),
    }
    return [
        *_pair(f"{prefix}Equals", f"{prefix}NotEquals", prepare=prepare, convert=convert, test=_eq, equality=True),
        *(Operator(prefix + suffix, False, prepare, convert, test) for suffix, test in ordered.items()),
    ]


OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in [
        *_pair("StringEquals", "StringNotEquals", prepare=_same, convert=_same, test=_eq, variables=True, equality=True),
        *_pair("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", prepare=_fold, convert=_fold, test=_eq,
               variables=True, equality=True),
        *_pair("StringLike", "StringNotLike", prepare=_glob, convert=_same, test=_glob_test, variables=True, wildcard=True),
        *_comparisons("Numeric", parse_number, _number_or_none),
        *_comparisons("Date", parse_date, _date_or_none),
        Operator("Bool", False, _lower, _lower, _eq, variables=True, equality=True),
        Operator("BinaryEquals", False, _binary, _binary, _eq, equality=True),
        *_pair("IpAddress", "NotIpAddress", prepare=_network, convert=_address, test=_in_network),
        *_pair("ArnEquals", "ArnNotEquals", prepare=_arn_pattern, convert=_arn_parts, test=_arn_test, variables=True),
        *_pair("ArnLike", "ArnNotLike", prepare=_arn_pattern, convert=_arn_parts, test=_arn_test, variables=True),
    ]
}

SET_QUALIFIERS = ("ForAllValues:", "ForAnyValue:")
IF_EXISTS = "IfExists"
NULL = "Null"


@dataclass(frozen=True, slots=True)
class ParsedOperator:
    operator: Operator | None  # None for Null
    set_qualifier: str | None  # "ForAllValues" | "ForAnyValue"
    if_exists: bool


def parse_operator(name: str) -> ParsedOperator | None:
    """Split `ForAnyValue:StringLikeIfExists` into its parts; None for an unknown operator."""
    qualifier = None
    for prefix in SET_QUALIFIERS:
        if name.startswith(prefix):
            qualifier, name = prefix[:-1], name[len(prefix):]
            break
    if_exists = name.endswith(IF_EXISTS) and name != IF_EXISTS
    if if_exists:
        name = name[: -len(IF_EXISTS)]
    if name == NULL:
        return None if if_exists else ParsedOperator(None, qualifier, False)
    operator = OPERATORS.get(name)
    return None if operator is None else ParsedOperator(operator, qualifier, if_exists)
