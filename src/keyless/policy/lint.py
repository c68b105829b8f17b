"""Policy lint: what a reviewer would flag in a policy that IAM accepts.

    findings = lint(text, PolicyKind.IDENTITY)      # pure; () for a clean least-privilege policy

A document IAM would reject yields one MALFORMED_POLICY finding and nothing else. Otherwise
every statement is checked against the action catalog (unknown actions and condition keys,
resources the actions cannot apply to), for broad grants (`*` actions, service wildcards,
NotAction/NotResource, PassRole/AssumeRole and privilege-escalation actions on broad resources),
for trust policies open to anyone or a whole account, and for statements, actions and
resources that others already cover. Severity order, lowest first: suggestion < warning <
security < error.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Callable, Iterator

from keyless.policy import catalog, jsontext
from keyless.policy.document import PolicyKind
from keyless.policy.errors import PolicyError
from keyless.policy.model import parse_policy


class Severity(enum.IntEnum):
    SUGGESTION = 1  # tidier, same meaning
    WARNING = 2  # probably not what the author meant
    SECURITY = 3  # grants more than least privilege
    ERROR = 4  # cannot work as written

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.strip().upper()]


@dataclass(frozen=True)
class Finding:
    id: str
    severity: Severity
    statement: int | None  # index into Statement; None for the whole document
    message: str
    sid: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["severity"] = self.severity.name.lower()
        return out


# Every finding lint can report, with its severity (the CLI's --help and the docs list these).
FINDING_CLASSES: dict[str, Severity] = {
    "MALFORMED_POLICY": Severity.ERROR, "UNKNOWN_ACTION": Severity.ERROR, "UNKNOWN_CONDITION_KEY": Severity.ERROR,
    "RESOURCE_MISMATCH": Severity.ERROR, "ALLOW_ALL_ACTIONS": Severity.SECURITY,
    "SERVICE_WILDCARD_ON_ALL_RESOURCES": Severity.SECURITY, "ALLOW_WITH_NOT_ACTION": Severity.SECURITY,
    "ALLOW_WITH_NOT_RESOURCE": Severity.SECURITY, "PASS_ROLE_ON_ALL_RESOURCES": Severity.SECURITY,
    "ASSUME_ROLE_ON_ALL_RESOURCES": Severity.SECURITY, "PRIVILEGE_ESCALATION": Severity.SECURITY,
    "TRUST_ALLOWS_ANYONE": Severity.SECURITY, "TRUST_ALLOWS_WHOLE_ACCOUNT": Severity.WARNING,
    "CONDITION_KEY_NOT_APPLICABLE": Severity.WARNING, "SHADOWED_STATEMENT": Severity.WARNING,
    "REDUNDANT_STATEMENT": Severity.SUGGESTION, "REDUNDANT_ACTION": Severity.SUGGESTION,
    "REDUNDANT_RESOURCE": Severity.SUGGESTION,
}

# Actions that let a principal grant itself (or a principal it controls) more permissions.
ESCALATION_ACTIONS = (
    "iam:AddUserToGroup", "iam:AttachGroupPolicy", "iam:AttachRolePolicy", "iam:AttachUserPolicy",
    "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:CreatePolicyVersion", "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary", "iam:PutGroupPolicy", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy",
    "iam:PutUserPermissionsBoundary", "iam:PutUserPolicy", "iam:SetDefaultPolicyVersion", "iam:UpdateAssumeRolePolicy",
    "iam:UpdateLoginProfile",
)
_TRUST_ACTIONS = re.compile(r"sts:(assumerole\w*|tagsession|setsourceidentity|setcontext)", re.IGNORECASE)
_ACCOUNT_PRINCIPAL = re.compile(r"(\d{12})|arn:aws[\w-]*:iam::(\d{12}):root")


@dataclass(frozen=True)
class _Statement:
    """One statement, normalised: lists everywhere, and where it sits in the text."""

    index: int
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...] | None
    not_resource: bool
    principal: Any
    not_principal: bool
    condition: dict[str, Any]
    line: int | None

    @property
    def allows(self) -> bool:
        return self.effect == "Allow"

    def finding(self, id_: str, severity: Severity, message: str) -> Finding:
        return Finding(id_, severity, self.index, message, self.sid, self.line)


def lint(text: str, kind: PolicyKind = PolicyKind.IDENTITY) -> tuple[Finding, ...]:
    try:
        parse_policy(text, kind)
    except PolicyError as exc:
        return (Finding("MALFORMED_POLICY", Severity.ERROR, None, str(exc)),)
    statements = _statements(text)
    findings: list[Finding] = []
    for check in _CHECKS:
        findings.extend(check(statements, kind))
    return tuple(sorted(findings, key=lambda f: (-1 if f.statement is None else f.statement, -f.severity, f.id, f.message)))


def detect_kind(text: str) -> PolicyKind:
    """A file's kind from its content: Principal + only STS trust actions = trust policy."""
    try:
        statements = _statements(text)
    except (jsontext.JsonSyntaxError, TypeError, AttributeError):
        return PolicyKind.IDENTITY
    with_principal = [s for s in statements if s.principal is not None]
    if not with_principal:
        return PolicyKind.IDENTITY
    if all(a == "*" or _TRUST_ACTIONS.fullmatch(a) for s in statements for a in s.actions):
        return PolicyKind.TRUST
    return PolicyKind.RESOURCE


def worst(findings: tuple[Finding, ...]) -> Severity | None:
    return max((f.severity for f in findings), default=None)


# --- reading -------------------------------------------------------------------------------------


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _statements(text: str) -> tuple[_Statement, ...]:
    root = jsontext.loads(text)
    raw = root.get("Statement")
    items = [raw] if isinstance(raw, dict) else list(raw or ())
    lines = jsontext.LineIndex(text)
    out = []
    for index, item in enumerate(items):
        start = getattr(item, "start", None)
        out.append(_Statement(
            index=index,
            sid=item.get("Sid") or None,
            effect=item["Effect"],
            actions=_strings(item.get("Action", item.get("NotAction"))),
            not_action="NotAction" in item,
            resources=_strings(item["Resource"] if "Resource" in item else item["NotResource"])
            if ("Resource" in item or "NotResource" in item) else None,
            not_resource="NotResource" in item,
            principal=item.get("Principal", item.get("NotPrincipal")),
            not_principal="NotPrincipal" in item,
            condition=dict(item.get("Condition") or {}),
            line=lines.line_column(start)[0] if start is not None else None,
        ))
    return tuple(out)


@lru_cache(maxsize=4096)
def _expand(pattern: str) -> frozenset[str]:
    return frozenset(catalog.expand(pattern))


def _granted(s: _Statement) -> frozenset[str]:
    """Every catalog action the statement names (for NotAction: every action it does not name)."""
    named = frozenset().union(*(_expand(a) for a in s.actions)) if s.actions else frozenset()
    return _expand("*") - named if s.not_action else named


def _is_broad(resource: str) -> bool:
    """`*`, or every resource of a type in an account: `arn:aws:iam::123456789012:role/*`."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and re.fullmatch(r"([\w-]+/)?\*+", parts[5]) is not None


def _covers_broadly(s: _Statement) -> bool:
    return s.not_resource or s.resources is None or any(_is_broad(r) for r in s.resources)


# --- checks: catalog ------------------------------------------------------------------------------


def _check_unknown_actions(statements: tuple[_Statement, ...], kind: PolicyKind) -> Iterator[Finding]:
    for s in statements:
        for pattern in s.actions:
            if pattern == "*" or _expand(pattern):
                continue
            service = pattern.partition(":")[0]
            if "*" not in service and "?" not in service and catalog.service_name(service) is None:
                message = f"{pattern}: {service!r} is not a known service prefix"
            else:
                message = f"{pattern} matches no known action"
            yield s.finding("UNKNOWN_ACTION", Severity.ERROR, message)


def _check_condition_keys(statements: tuple[_Statement, ...], kind: PolicyKind) -> Iterator[Finding]:
    for s in statements:
        actions = None if s.not_action or "*" in s.actions else sorted(_granted(s))
        for block in s.condition.values():
            for key in block:
                if not catalog.is_known_condition_key(key):
                    yield s.finding("UNKNOWN_CONDITION_KEY", Severity.ERROR, f"condition key {key} is not a known key")
                elif actions and not catalog.condition_key_applies(key, actions):
                    yield s.finding("CONDITION_KEY_NOT_APPLICABLE", Severity.WARNING,
                                    f"condition key {key} is never present for {_short_list(actions)}")


def _check_resources(statements: tuple[_Statement, ...], kind: PolicyKind) -> Iterator[Finding]:
    for s in statements:
        if s.resources is None or s.not_resource or s.not_action or "*" in s.actions:
            continue
        usable: set[str] = set()
        for pattern in s.actions:
            actions = sorted(_expand(pattern))
            matching = [r for r in s.resources if any(catalog.resource_can_match(r, a) for a in actions)]
            usable.update(matching)
            if actions and not matching:
                formats = sorted({f for a in actions for f in catalog.arn_formats(a)}) or ["*"]
                yield s.finding("RESOURCE_MISMATCH", Severity.ERROR,
                                f"{pattern} cannot apply to any Resource of this statement; it takes {_short_list(formats)}")
        if usable:  # otherwise the action findings above already explain the statement
            for resource in s.resources:
                if resource not in usable:
                    yield s.finding("RESOURCE_MISMATCH", Severity.ERROR,
                                    f"Resource {resource} matches none of this statement's actions")


# --- checks: broad grants ------------------------------------------------------------------------


def _check_wildcards(statements: tuple[_Statement, ...], kind: PolicyKind) -> Iterator[Finding]:
    for s in statements:
        if not s.allows or s.not_action:
            continue
        if any(a in ("*", "*:*") for a in s.actions):
            yield s.finding("ALLOW_ALL_ACTIONS", Severity.SECURITY, "Allow with Action \"*\" grants every action")
        if s.resources is not None and "*" in s.resources:
            for action in s.actions:
                service, _, name = action.partition(":")
                if name == "*" and service != "*":
                    yield s.finding("SERVICE_WILDCARD_ON_ALL_RESOURCES", Severity.SECURITY,
                                    f"Allow {action} on Resource \"*\" grants every {service} action on every resource")


def _check_not_elements(statements: tuple[_Statement, ...], kind: PolicyKind) -> Iterator[Finding]:
    for s in statements:
        if not s.allows:
            continue
        if s.not_action:
            yield s.finding("ALLOW_WITH_NOT_ACTION", Severity.SECURITY,
                            "Allow with NotAction grants every action not listed, including future ones")
        if s.not_resource:
            yield s.finding("ALLOW_WITH_NOT_RESOURCE", Severity.SECURITY,
                            "Allow with NotResource grants the actions on every resource not listed")


def _check_sensitive_actions(statements: tuple[_Statement, ...], kind: PolicyKind) -> Iterator[Finding]:
    for s in statements:
        if not s.allows or kind is PolicyKind.TRUST or not _covers_broadly(s):
            continue
        granted = _granted(s)
        where = "all resources" if s.not_resource else ", ".join(r for r in s.resources or () if _is_broad(r))
        if "iam:PassRole" in granted:
            yield s.finding("PASS_ROLE_ON_ALL_RESOURCES", Severity.SECURITY,
                            f"iam:PassRole on {where} lets the caller hand any role to a service")
        if "sts:AssumeRole" in granted:
            yield s.finding("ASSUME_ROLE_ON_ALL_RESOURCES", Severity.SECURITY,
                            f"sts:AssumeRole on {where} lets the caller assume any role that trusts it")
        escalation = [a for a in ESCALATION_ACTIONS if a in granted]
        if escalation:
            yield s.finding("PRIVILEGE_ESCALATION", Severity.SECURITY,
                            f"{_short_list(escalation)} on {where} let the caller grant itself more permissions")


def _check_trust(statements: tuple[_Statement, ...], kind: PolicyKind) -> Iterator[Finding]:
    if kind is not PolicyKind.TRUST:
        return
    for s in statements:
        if not s.allows or s.condition:
            continue
        if s.not_principal:
            yield s.finding("TRUST_ALLOWS_ANYONE", Severity.SECURITY,
                            "Allow with NotPrincipal and no Condition trusts everyone but the principals listed")
            continue
        principals = _principal_values(s.principal)
        if "*" in principals:
            yield s.finding("TRUST_ALLOWS_ANYONE", Severity.SECURITY,
                            "the trust policy lets any AWS principal assume the role (Principal \"*\" without a Condition)")
        for value in principals:
            m = _ACCOUNT_PRINCIPAL.fullmatch(value)
            if m:
                yield s.finding("TRUST_ALLOWS_WHOLE_ACCOUNT", Severity.WARNING,
                                f"any principal of account {m.group(1) or m.group(2)} allowed by its own policies can assume "
                                "the role; name the roles or users, or add a Condition")


def _principal_values(principal: Any) -> tuple[str, ...]:
    if principal == "*":
        return ("*",)
    if isinstance(principal, dict):
        return tuple(v for kind, values in principal.items() if kind == "AWS" for v in _strings(values))
    return ()


# --- checks: redundancy ---------------------------------------------------------------------------


def _check_redundancy(statements: tuple[_Statement, ...], kind: PolicyKind) -> Iterator[Finding]:
    plain = [s for s in statements if not (s.not_action or s.not_resource or s.not_principal)]
    for s in plain:
        for other in plain:
            if other is s or other.principal != s.principal or not _statement_covers(other, s):
                continue
            if other.effect != s.effect:
                if s.allows and not other.condition:
                    yield s.finding("SHADOWED_STATEMENT", Severity.WARNING,
                                    f"Statement[{other.index}] denies everything this statement allows")
                    break
                continue
            if _statement_covers(s, other) and other.index > s.index:
                continue  # identical pair: report the later one only
            yield s.finding("REDUNDANT_STATEMENT", Severity.SUGGESTION,
                            f"Statement[{other.index}] already {'allows' if s.allows else 'denies'} all of this")
            break
        yield from _redundant_entries(s, s.actions, _action_covers, "REDUNDANT_ACTION", "Action")
        if s.resources is not None:
            yield from _redundant_entries(s, s.resources, _resource_covers, "REDUNDANT_RESOURCE", "Resource")


def _redundant_entries(s: _Statement, entries: tuple[str, ...], covers: Callable[[str, str], bool],
                       id_: str, element: str) -> Iterator[Finding]:
    for i, entry in enumerate(entries):
        for j, other in enumerate(entries):
            if i == j or not covers(other, entry):
                continue
            if covers(entry, other) and j > i:
                continue  # equal entries: report the later one
            yield s.finding(id_, Severity.SUGGESTION, f"{element} {entry} is already covered by {other}")
            break


def _statement_covers(big: _Statement, small: _Statement) -> bool:
    if big.condition and _canonical(big.condition) != _canonical(small.condition):
        return False
    if not all(any(_action_covers(b, a) for b in big.actions) for a in small.actions):
        return False
    if big.resources is None or small.resources is None:
        return big.resources is None and small.resources is None
    return all(any(_resource_covers(b, r) for b in big.resources) for r in small.resources)


def _canonical(condition: dict[str, Any]) -> str:
    return json.dumps(condition, sort_keys=True)


def _action_covers(big: str, small: str) -> bool:
    if big == "*" or big.lower() == small.lower():
        return True
    expanded = _expand(small)
    if expanded and "*" not in big and "?" not in big:
        return False
    return (bool(expanded) and expanded <= _expand(big)) or _glob_covers(big.lower(), small.lower())


def _resource_covers(big: str, small: str) -> bool:
    return big == "*" or big == small or _glob_covers(big, small)


@lru_cache(maxsize=8192)
def _glob_covers(big: str, small: str) -> bool:
    """Whether every string `small` matches also matches `big` (both globs with * and ?).

    Sound, not complete: `*` in big may absorb anything in small, `?` one literal or `?`, and a
    literal only the same literal.
    """
    memo: dict[tuple[int, int], bool] = {}

    def go(i: int, j: int) -> bool:
        if (i, j) in memo:
            return memo[(i, j)]
        if i == len(big):
            result = j == len(small)
        elif big[i] == "*":
            result = go(i + 1, j) or (j < len(small) and go(i, j + 1))
        elif j == len(small) or small[j] == "*":
            result = False
        else:
            result = (big[i] == "?" or big[i] == small[j]) and go(i + 1, j + 1)
        memo[(i, j)] = result
        return result

    return go(0, 0)


def _short_list(items: list[str] | tuple[str, ...], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


_CHECKS: tuple[Callable[[tuple[_Statement, ...], PolicyKind], Iterator[Finding]], ...] = (
    _check_unknown_actions, _check_condition_keys, _check_resources, _check_wildcards, _check_not_elements,
    _check_sensitive_actions, _check_trust, _check_redundancy,
)
