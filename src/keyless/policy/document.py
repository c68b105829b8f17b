"""Policy grammar and validation, in AWS's order and with AWS's words [gram, ver].

IAM reports only the first problem, and which one comes first matters to anyone comparing
messages, so the checks run as IAM runs them: size, JSON, structure ("Syntax errors in policy."),
version, legacy parsing (Effect case, dates, resource shapes), Sid uniqueness, Sid characters,
principal presence, action presence, resource formats, action vendors, resource presence, trust
actions, principal values. The ordering follows the documented error cases (moto's
tests/test_iam/test_iam_policies.py records AWS's answers for them).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from keyless.policy import jsontext
from keyless.policy.errors import PolicyError, PolicySizeError
from keyless.policy.operators import parse_date, parse_operator
from keyless.policy.principals import PRINCIPAL_TYPES, invalid_principal
from keyless.policy.resources import resource_format_error, resource_legacy_ok


class PolicyKind(enum.Enum):
    IDENTITY = "identity"  # user/group/role inline and managed policies
    RESOURCE = "resource"  # bucket policies and other resource-based policies
    TRUST = "trust"  # a role's AssumeRolePolicyDocument (resource-based, no Resource)
    BOUNDARY = "boundary"  # permissions boundary (a managed policy)
    SESSION = "session"  # AssumeRole Policy/PolicyArns


IAM_KINDS = (PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION)
VERSIONS = ("2012-10-17", "2008-10-17")
TOP_ELEMENTS = frozenset({"Version", "Id", "Statement"})
STATEMENT_ELEMENTS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
EXCLUSIVE_PAIRS = (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal"))
DEFAULT_QUOTA = {PolicyKind.TRUST: "ACLSizePerRole", PolicyKind.SESSION: "PolicySize"}

SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"
_SID = re.compile(r"[0-9A-Za-z]*")
_VENDOR = re.compile(r"[a-zA-Z0-9\-.]+")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Document:
    version: str | None
    policy_id: str | None
    statements: tuple[jsontext.JsonObject, ...]
    lines: jsontext.LineIndex
    single_statement: bool  # "Statement": {...} rather than a list


def policy_size(text: str) -> int:
    """Characters IAM counts against its quotas: whitespace is not counted [quota]."""
    return len(_WHITESPACE.sub("", text))


def check_size(text: str, limit: int, quota: str) -> None:
    if policy_size(text) > limit:
        raise PolicySizeError(f"Cannot exceed quota for {quota}: {limit}")


def validate(text: str, kind: PolicyKind, *, managed: bool = False) -> Document:
    try:
        root = jsontext.loads(text)
    except jsontext.JsonSyntaxError as exc:
        raise PolicyError(SYNTAX, f"invalid JSON: {exc}") from None
    statements = _check_structure(root)
    if managed and root.get("Version") != "2012-10-17":
        raise PolicyError("Policy document must be version 2012-10-17 or greater.", "Version")
    resource_error = _check_legacy(statements)
    _check_sids(statements, kind)
    _check_principal_presence(statements, kind)
    _check_present(statements, ("Action", "NotAction"), "Policy statement must contain actions.")
    if resource_error:
        raise PolicyError(*resource_error)
    _check_vendors(statements)
    _check_resource_presence(statements, kind)
    if kind is PolicyKind.TRUST:
        _check_trust_actions(statements)
    _check_principal_values(statements)
    return Document(root.get("Version"), root.get("Id"), statements, jsontext.LineIndex(text),
                    isinstance(root["Statement"], dict))


# --- 1. structure ------------------------------------------------------------------------------


def _syntax(detail: str) -> PolicyError:
    return PolicyError(SYNTAX, detail)


def _check_structure(root: Any) -> tuple[jsontext.JsonObject, ...]:
    if not isinstance(root, dict):
        raise _syntax("the document is not a JSON object")
    unknown = set(root) - TOP_ELEMENTS
    if unknown:
        raise _syntax(f"unknown top-level element {sorted(unknown)[0]!r}")
    if "Version" in root and root["Version"] not in VERSIONS:
        raise _syntax(f"Version must be one of {', '.join(VERSIONS)}")
    if "Id" in root and not isinstance(root["Id"], str):
        raise _syntax("Id must be a string")
    raw = root.get("Statement")
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list) or not statements:
        raise _syntax("Statement must be an object or a non-empty list")
    for index, statement in enumerate(statements):
        _check_statement_structure(statement, index)
    return tuple(statements)


def _check_statement_structure(statement: Any, index: int) -> None:
    where = f"Statement[{index}]"
    if not isinstance(statement, dict):
        raise _syntax(f"{where} is not an object")
    unknown = set(statement) - STATEMENT_ELEMENTS
    if unknown:
        raise _syntax(f"{where} has unknown element {sorted(unknown)[0]!r}")
    for first, second in EXCLUSIVE_PAIRS:
        if first in statement and second in statement:
            raise _syntax(f"{where} has both {first} and {second}")
    effect = statement.get("Effect")
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        raise _syntax(f"{where}.Effect must be Allow or Deny")
    for element in ("Action", "NotAction", "Resource", "NotResource"):
        if element in statement and not _string_or_strings(statement[element]):
            raise _syntax(f"{where}.{element} must be a string or a list of strings")
    for element in ("Principal", "NotPrincipal"):
        if element in statement:
            _check_principal_structure(statement[element], f"{where}.{element}")
    if "Condition" in statement:
        _check_condition_structure(statement["Condition"], f"{where}.Condition")
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        raise _syntax(f"{where}.Sid must be a string")


def _string_or_strings(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _check_principal_structure(value: Any, where: str) -> None:
    if value == "*":
        return
    if not isinstance(value, dict) or not value:
        raise _syntax(f'{where} must be "*" or an object of AWS/Service/Federated/CanonicalUser')
    for kind, names in value.items():
        if kind not in PRINCIPAL_TYPES or not _string_or_strings(names):
            raise _syntax(f"{where}.{kind} is not a principal type with string values")


def _check_condition_structure(condition: Any, where: str) -> None:
    if not isinstance(condition, dict):
        raise _syntax(f"{where} must be an object")
    for operator, block in condition.items():
        if not isinstance(block, dict):
            raise _syntax(f"{where}.{operator} must be an object")
        for key, values in block.items():
            if not _condition_values_ok(values):
                raise _syntax(f"{where}.{operator}.{key} must be a string, number, boolean or a list of them")
        if block and parse_operator(operator) is None:
            raise _syntax(f"{where}: unknown condition operator {operator!r}")


def _condition_values_ok(values: Any) -> bool:
    scalar = (str, int, float, bool)
    return isinstance(values, scalar) or (isinstance(values, list) and all(isinstance(v, scalar) for v in values))


# --- 2. legacy parsing: exact Effect case, dates, resource shapes --------------------------------


def _check_legacy(statements: tuple[jsontext.JsonObject, ...]) -> tuple[str, str] | None:
    """Raise for legacy-parser failures; return the (message, detail) of the resource-format
    error IAM reports later, after Sid and action-presence checks."""
    for index, statement in enumerate(statements):
        if statement["Effect"] not in ("Allow", "Deny"):
            raise PolicyError(LEGACY, f"Statement[{index}].Effect is case-sensitive: {statement['Effect']!r}")
        for operator, block in statement.get("Condition", {}).items():
            parsed = parse_operator(operator)
            if parsed is None or parsed.operator is None or not parsed.operator.name.startswith("Date"):
                continue
            for key, values in block.items():
                for value in values if isinstance(values, list) else [values]:
                    try:
                        parse_date(str(value))
                    except (ValueError, OverflowError):
                        raise PolicyError(LEGACY, f"Statement[{index}].Condition.{operator}.{key}: bad date {value!r}") from None
    error: tuple[str, str] | None = None
    for index, statement in enumerate(statements):
        for element in ("Resource", "NotResource"):
            if element not in statement:
                continue
            values = _as_list(statement[element])
            for value in sorted(values, reverse=True):  # IAM keeps the last error in this order
                message = resource_format_error(value)
                if message:
                    error = (message, f"Statement[{index}].{element}: {value!r}")
            if error is None and not all(resource_legacy_ok(v) for v in values):
                raise PolicyError(LEGACY, f"Statement[{index}].{element}: unparseable resource")
    return error


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- 3. Sids, principals, actions, resources ------------------------------------------------------


def _check_sids(statements: tuple[jsontext.JsonObject, ...], kind: PolicyKind) -> None:
    seen: set[str] = set()
    for index, statement in enumerate(statements):
        sid = statement.get("Sid")
        if sid:
            if sid in seen:
                raise PolicyError("Statement IDs (SID) in a single policy must be unique.", f"Statement[{index}].Sid {sid!r}")
            seen.add(sid)
    if kind is PolicyKind.RESOURCE:
        return  # bucket-style policies allow any Sid text
    for index, statement in enumerate(statements):
        if not _SID.fullmatch(statement.get("Sid", "")):
            raise PolicyError(
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
                f"Statement[{index}].Sid {statement['Sid']!r}",
            )


def _check_principal_presence(statements: tuple[jsontext.JsonObject, ...], kind: PolicyKind) -> None:
    for index, statement in enumerate(statements):
        has_principal = "Principal" in statement or "NotPrincipal" in statement
        if kind in IAM_KINDS and has_principal:
            raise PolicyError("Policy document should not specify a principal.", f"Statement[{index}]")
        if kind not in IAM_KINDS and not has_principal:
            raise PolicyError("Missing required field Principal", f"Statement[{index}]")


def _check_present(statements: tuple[jsontext.JsonObject, ...], elements: tuple[str, str], message: str) -> None:
    for index, statement in enumerate(statements):
        present = [statement[e] for e in elements if e in statement]
        if not present or present[0] == []:
            raise PolicyError(message, f"Statement[{index}] has no {elements[0]}")


def _check_vendors(statements: tuple[jsontext.JsonObject, ...]) -> None:
    for element in ("Action", "NotAction"):
        for index, statement in enumerate(statements):
            for action in _as_list(statement.get(element, [])):
                message = _action_error(action)
                if message:
                    raise PolicyError(message, f"Statement[{index}].{element}: {action!r}")


def _action_error(action: str) -> str | None:
    parts = action.split(":")
    if len(parts) == 1 and parts[0] != "*":
        return "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    if len(parts) > 2:
        return "Actions/Condition can contain only one colon."
    if parts[0] != "*" and not _VENDOR.fullmatch(parts[0]):
        return f"Vendor {parts[0]} is not valid"
    return None


def _check_resource_presence(statements: tuple[jsontext.JsonObject, ...], kind: PolicyKind) -> None:
    if kind is PolicyKind.TRUST:
        for index, statement in enumerate(statements):
            if "Resource" in statement or "NotResource" in statement:
                raise PolicyError("Has prohibited field Resource", f"Statement[{index}]")
        return
    _check_present(statements, ("Resource", "NotResource"), "Policy statement must contain resources.")


def _check_trust_actions(statements: tuple[jsontext.JsonObject, ...]) -> None:
    for index, statement in enumerate(statements):
        for action in _as_list(statement.get("Action", statement.get("NotAction", []))):
            if action != "*" and not action.lower().startswith("sts:"):
                raise PolicyError("AssumeRole policy may only specify STS AssumeRole actions.", f"Statement[{index}]: {action!r}")


def _check_principal_values(statements: tuple[jsontext.JsonObject, ...]) -> None:
    for statement in statements:
        element = statement.get("Principal", statement.get("NotPrincipal"))
        if isinstance(element, dict):
            for kind, values in element.items():
                message = invalid_principal(kind, _as_list(values))
                if message:
                    raise PolicyError(message)
