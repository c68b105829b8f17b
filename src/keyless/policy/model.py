"""Compiled policies: a validated document turned into statements with ready-made matchers.

Compilation happens once per document; evaluation then only calls closures. Each Policy also
remembers, per action it has been asked about, which of its statements name that action (split
into Deny and Allow), so a request looks at a handful of statements instead of all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from keyless.policy import document
from keyless.policy.conditions import Check, Clause, all_of, compile_clause
from keyless.policy.context import EvalContext, as_string
from keyless.policy.document import PolicyKind
from keyless.policy.match import Matcher, compile_globs
from keyless.policy.operators import parse_operator
from keyless.policy.principals import EXACT, Principal, PrincipalSpec
from keyless.policy.resources import ResourceMatcher, compile_resources

Applies = Callable[[str, EvalContext], bool]
_ACTION_CACHE_LIMIT = 4096  # actions are a finite set; the bound guards against Simulate* inputs


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True, eq=False, slots=True)
class Statement:
    policy: PolicyRef
    index: int
    sid: str | None
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...] | None  # None in trust policies
    not_resource: bool
    principal: PrincipalSpec | None
    not_principal: bool
    clauses: tuple[Clause, ...]
    start: Position
    end: Position
    action_matcher: Matcher  # takes a lower-case action
    resource_matcher: ResourceMatcher | None
    condition: Check | None
    applies: Applies  # resource and condition together, specialised at compile time

    @property
    def is_deny(self) -> bool:
        return self.effect == "Deny"

    def names_action(self, action: str) -> bool:
        return self.action_matcher(action.lower()) != self.not_action

    def grant(self, principal: Principal) -> str | None:
        """How the statement's Principal/NotPrincipal names the caller (None: it doesn't)."""
        spec = self.principal
        if spec is None:
            return EXACT
        if self.not_principal:
            return None if spec.names_every_identity(principal) else EXACT
        return spec.grant(principal)

    def label(self) -> str:
        return f"{self.policy.label()} statement {self.sid or '#' + str(self.index + 1)}"


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """What a statement needs to know about its policy (for messages and the simulator)."""

    policy_id: str
    name: str
    kind: PolicyKind

    def label(self) -> str:
        return self.policy_id or self.name or self.kind.value


@dataclass(frozen=True, eq=False)
class Policy:
    text: str
    kind: PolicyKind
    name: str
    policy_id: str
    version: str | None
    statements: tuple[Statement, ...]
    by_action: dict[str, tuple[tuple[Statement, ...], tuple[Statement, ...]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def candidates(self, action: str) -> tuple[tuple[Statement, ...], tuple[Statement, ...]]:
        """(Deny, Allow) statements naming a lower-case action; cached per action."""
        found = self.by_action.get(action)
        if found is None:
            named = [s for s in self.statements if s.action_matcher(action) != s.not_action]
            found = (tuple(s for s in named if s.is_deny), tuple(s for s in named if not s.is_deny))
            if len(self.by_action) >= _ACTION_CACHE_LIMIT:
                self.by_action.clear()
            self.by_action[action] = found
        return found

    def label(self) -> str:
        return self.policy_id or self.name or self.kind.value


_QUOTAS = {
    (PolicyKind.IDENTITY, 2048): "UserPolicySize",
    (PolicyKind.IDENTITY, 5120): "GroupPolicySize",
    (PolicyKind.IDENTITY, 10240): "ACLSizePerRole",
    (PolicyKind.TRUST, 2048): "ACLSizePerRole",
    (PolicyKind.TRUST, 4096): "ACLSizePerRole",
}


def parse_policy(
    text: str,
    kind: PolicyKind,
    *,
    name: str = "",
    policy_id: str = "",
    size_limit: int | None = None,
    quota: str | None = None,
    managed: bool = False,
) -> Policy:
    """Validate (raising PolicyError) and compile a policy document.

    `size_limit` counts characters without whitespace; `quota` names it in the LimitExceeded
    message (default: guessed from kind and limit, else "PolicySize"). `managed=True` applies
    CreatePolicy's rule that the Version must be 2012-10-17.
    """
    if size_limit is not None:
        document.check_size(text, size_limit, quota or _QUOTAS.get((kind, size_limit), "PolicySize"))
    doc = document.validate(text, kind, managed=managed)
    ref = PolicyRef(policy_id, name, kind)
    substitute = doc.version == "2012-10-17"  # no variables under 2008-10-17 or without Version
    statements = tuple(_compile_statement(ref, i, raw, doc, substitute) for i, raw in enumerate(doc.statements))
    return Policy(text, kind, name, policy_id, doc.version, statements)


def _compile_statement(ref: PolicyRef, index: int, raw: Any, doc: document.Document, substitute: bool) -> Statement:
    actions = _strings(raw.get("Action", raw.get("NotAction")))
    resource_values = raw.get("Resource", raw.get("NotResource"))
    resources = None if resource_values is None else _strings(resource_values)
    principal_value = raw.get("Principal", raw.get("NotPrincipal"))
    clauses = _compile_clauses(raw.get("Condition", {}), substitute)
    condition = all_of(tuple(c.check for c in clauses))
    resource_matcher = None if resources is None else compile_resources(resources, substitute)
    not_resource = "NotResource" in raw
    return Statement(
        policy=ref,
        index=index,
        sid=raw.get("Sid"),
        effect=raw["Effect"],
        actions=actions,
        not_action="NotAction" in raw,
        resources=resources,
        not_resource=not_resource,
        principal=None if principal_value is None else PrincipalSpec.from_element(principal_value),
        not_principal="NotPrincipal" in raw,
        clauses=clauses,
        start=_position(doc, raw.start, 1 if doc.single_statement else 0),
        end=_position(doc, raw.end, 1),
        action_matcher=compile_globs(a.lower() for a in actions),
        resource_matcher=resource_matcher,
        condition=condition,
        applies=_applies(resource_matcher, not_resource, condition),
    )


def _strings(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _position(doc: document.Document, offset: int, shift: int) -> Position:
    """A brace's line and 1-based column as the Simulate* APIs report them.

    The evidence, all single-line documents: statements in a list start at the column of their
    `{` (observed twice: `[{` at column 41 after `{"Version": "2012-10-17", "Statement": `, and at
    15 after `{"Statement":[`); a lone statement object starts one column later, and a statement
    ends one column after its `}` (the aws CLI's own simulate-custom-policy example: 38 and 167
    for braces at columns 37 and 166).
    """
    line, column = doc.lines.line_column(offset)
    return Position(line, column + shift)


def _compile_clauses(condition: dict[str, Any], substitute: bool) -> tuple[Clause, ...]:
    clauses = []
    for operator, block in condition.items():
        parsed = parse_operator(operator)
        if parsed is None:
            continue  # only empty blocks of unknown operators get this far
        for key, values in block.items():
            strings = tuple(as_string(v) for v in (values if isinstance(values, list) else [values]))
            clauses.append(compile_clause(operator, parsed, key, strings, substitute))
    return tuple(clauses)


def _applies(matcher: ResourceMatcher | None, not_resource: bool, condition: Check | None) -> Applies:
    """One closure per statement, with the checks it doesn't need left out."""
    if matcher is None or (matcher.always and not not_resource):
        if condition is None:
            return lambda resource, ctx: True
        return lambda resource, ctx: condition(ctx)
    if matcher.always:  # NotResource "*": nothing
        return lambda resource, ctx: False
    if not matcher.templates:
        static = matcher.static
        if condition is None:
            return (lambda resource, ctx: not static(resource)) if not_resource else (lambda resource, ctx: static(resource))
        if not_resource:
            return lambda resource, ctx: not static(resource) and condition(ctx)
        return lambda resource, ctx: static(resource) and condition(ctx)
    matches = matcher.matches
    if condition is None:
        return lambda resource, ctx: matches(resource, ctx) != not_resource
    return lambda resource, ctx: matches(resource, ctx) != not_resource and condition(ctx)
