"""Input checks IAM makes beyond the model's types: name and path patterns, tags, policy ARNs.

Messages follow AWS's validation sentence ("1 validation error detected: Value 'x' at 'path'
failed to satisfy constraint: ...") so a client sees what AWS would print.
"""

from __future__ import annotations

import re
from typing import Any

from keyless.arn import Arn
from keyless.errors import ValidationError
from keyless.services.iam.errors import InvalidInput, LimitExceeded

NAME_RE = re.compile(r"[\w+=,.@-]+", re.ASCII)
PATH_RE = re.compile(r"/|/[\x21-\x7E]+/")
PATH_PREFIX_RE = re.compile(r"/[\x21-\x7F]*")
NAME_PATTERN_TEXT = r"[\w+=,.@-]+"
PATH_PATTERN_TEXT = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)"
PATH_PREFIX_PATTERN_TEXT = r"\u002F[\u0021-\u007F]*"
MAX_TAGS = 50


def _invalid(value: str, member: str, constraint: str) -> ValidationError:
    return ValidationError(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}")


def check_name(name: str, member: str, max_length: int) -> None:
    if len(name) > max_length:
        raise _invalid(name, member, f"Member must have length less than or equal to {max_length}")
    if not NAME_RE.fullmatch(name):
        raise _invalid(name, member, f"Member must satisfy regular expression pattern: {NAME_PATTERN_TEXT}")


def check_path(path: str, member: str = "path") -> None:
    if len(path) > 512:
        raise _invalid(path, member, "Member must have length less than or equal to 512")
    if not PATH_RE.fullmatch(path):
        raise _invalid(path, member, f"Member must satisfy regular expression pattern: {PATH_PATTERN_TEXT}")


def path_prefix(params: dict[str, Any]) -> str:
    prefix = params.get("PathPrefix") or "/"
    if not PATH_PREFIX_RE.fullmatch(prefix):
        raise _invalid(prefix, "pathPrefix", f"Member must satisfy regular expression pattern: {PATH_PREFIX_PATTERN_TEXT}")
    return prefix


def tags_from(params: dict[str, Any], entity: str) -> list[dict[str, str]]:
    """The request's Tags, checked: keys unique case-insensitively, at most 50."""
    tags = [{"Key": t["Key"], "Value": t.get("Value", "")} for t in params.get("Tags") or ()]
    seen: set[str] = set()
    for tag in tags:
        key = tag["Key"].lower()
        if key in seen:
            raise InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        seen.add(key)
        if tag["Key"].lower().startswith("aws:"):
            raise InvalidInput("User-defined tag keys can't start with 'aws:'. This prefix is reserved for AWS tags.")
    if len(tags) > MAX_TAGS:
        raise LimitExceeded(f"Cannot exceed quota for TagsPer{entity}: {MAX_TAGS}")
    return tags


def merge_tags(existing: list[dict[str, str]], new: list[dict[str, str]], entity: str) -> list[dict[str, str]]:
    """IAM user and role tag keys are case-insensitive: a new tag replaces one whose key differs only in case."""
    replaced = {t["Key"].lower() for t in new}
    merged = [t for t in existing if t["Key"].lower() not in replaced] + new
    if len(merged) > MAX_TAGS:
        raise LimitExceeded(f"Cannot exceed quota for TagsPer{entity}: {MAX_TAGS}")
    return merged


def remove_tags(existing: list[dict[str, str]], keys: list[str]) -> list[dict[str, str]]:
    drop = {k.lower() for k in keys}
    return [t for t in existing if t["Key"].lower() not in drop]


def policy_arn(arn: str) -> Arn:
    """A managed policy ARN (arn:aws:iam::ACCOUNT|aws:policy/PATH/NAME), or InvalidInput."""
    try:
        parsed = Arn.parse(arn)
    except ValueError:
        raise InvalidInput(f"ARN {arn} is not valid.") from None
    if parsed.service != "iam" or not parsed.resource.startswith("policy/") or not parsed.name:
        raise InvalidInput(f"ARN {arn} is not valid.")
    return parsed
