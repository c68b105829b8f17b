"""IAM SimulateCustomPolicy / SimulatePrincipalPolicy, as a pure function.

Returns `EvaluationResults` items shaped like botocore's iam `EvaluationResult`: one per
(action, resource) pair, with `ResourceSpecificResults` when ResourceArns were given. Like AWS,
the simulation sees exactly the given ContextEntries and fills no key from anywhere else.
Only identity-based and resource-based statements are reported in MatchedStatements (the API
reference says so); the boundary's verdict is in PermissionsBoundaryDecisionDetail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from keyless.policy.context import EvalContext
from keyless.policy.document import PolicyKind
from keyless.policy.errors import SimulationInputError
from keyless.policy.evaluate import Decision, PolicySet, Request, evaluate, matching_statements
from keyless.policy.model import Policy, Statement, parse_policy
from keyless.policy.principals import Principal
from keyless.policy.variables import parse_template

_LIST_TYPES = frozenset({"stringList", "numericList", "booleanList", "ipList", "binaryList", "dateList"})
_TYPES = _LIST_TYPES | {t[: -len("List")] for t in _LIST_TYPES}


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """A policy for the simulator; SimulatePrincipalPolicy passes the names and types it knows."""

    text: str
    source_id: str = ""  # SourcePolicyId: policy name/ARN, or "PolicyInputList.1"
    source_type: str | None = None  # default: "IAM Policy" / "Resource Policy", what IAM is seen to send


def simulate(
    policy_inputs: Sequence[str | PolicyInput],
    action_names: Sequence[str],
    *,
    resource_arns: Sequence[str] | None = None,
    boundary_inputs: Sequence[str | PolicyInput] = (),
    resource_policy: str | PolicyInput | None = None,
    resource_owner: str | None = None,
    caller_arn: str | None = None,
    context_entries: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Raises PolicyError for a malformed policy and SimulationInputError for bad inputs."""
    types: dict[int, str | None] = {}
    identity = tuple(_compile(p, PolicyKind.IDENTITY, f"PolicyInputList.{i}", types)
                     for i, p in enumerate(policy_inputs, 1))
    boundaries = [_compile(p, PolicyKind.BOUNDARY, f"PermissionsBoundaryPolicyInputList.{i}", types)
                  for i, p in enumerate(boundary_inputs, 1)]
    if len(boundaries) > 1:
        raise SimulationInputError("Only one permissions boundary policy may be provided.")
    resource_compiled = None if resource_policy is None else _compile(resource_policy, PolicyKind.RESOURCE, "ResourcePolicy", types)
    policies = PolicySet(identity=identity, boundary=boundaries[0] if boundaries else None)
    principal = caller_principal(caller_arn, resource_owner)
    owner = account_of(resource_owner) or principal.account
    context = context_from_entries(context_entries)
    resources = list(resource_arns) if resource_arns else ["*"]
    run = _Run(policies, resource_compiled, principal, owner if resource_compiled is not None else None, context, types)
    return [run.result(action, resource, listed=bool(resource_arns)) for action in action_names for resource in resources]


def context_from_entries(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """botocore ContextEntry dicts -> the engine's context (list types stay lists)."""
    context: dict[str, Any] = {}
    for entry in entries:
        name = entry.get("ContextKeyName")
        if not name:
            raise SimulationInputError("ContextKeyName is required in each context entry.")
        kind = entry.get("ContextKeyType", "string")
        if kind not in _TYPES:
            raise SimulationInputError(f"Invalid ContextKeyType: {kind}")
        values = [str(v) for v in entry.get("ContextKeyValues", [])]
        if kind.startswith("boolean"):
            values = [v.lower() for v in values]
        context[name] = values if kind in _LIST_TYPES or len(values) != 1 else values[0]
    return context


def _compile(item: str | PolicyInput, kind: PolicyKind, default_id: str, types: dict[int, str | None]) -> Policy:
    source = item if isinstance(item, PolicyInput) else PolicyInput(item)
    policy = parse_policy(source.text, kind, name=source.source_id or default_id, policy_id=source.source_id or default_id)
    # Observed responses carry "IAM Policy" for policy inputs (not one of the model's enum values).
    default_type = "Resource Policy" if kind is PolicyKind.RESOURCE else "IAM Policy"
    types[id(policy.statements[0].policy)] = source.source_type or default_type  # keyed by the statements' PolicyRef
    return policy


def account_of(value: str | None) -> str | None:
    if not value:
        return None
    parts = value.split(":")
    return parts[4] if len(parts) > 5 else value


def caller_principal(caller_arn: str | None, resource_owner: str | None) -> Principal:
    if not caller_arn:
        # No caller: identity policies still apply; only "*" or account principals can match.
        return Principal(arn="", principal_arn="", account=account_of(resource_owner), type="User")
    parts = caller_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise SimulationInputError(f"Invalid ARN: {caller_arn}")
    account, resource = parts[4], parts[5]
    kind = "Root" if resource == "root" else "AssumedRole" if resource.startswith(("role/", "assumed-role/")) else "User"
    return Principal(arn=caller_arn, principal_arn=caller_arn, account=account, type=kind)


class _Run:
    def __init__(self, policies: PolicySet, resource_policy: Policy | None, principal: Principal,
                 owner: str | None, context: dict[str, Any], types: dict[int, str | None]) -> None:
        self.policies, self.resource_policy, self.principal = policies, resource_policy, principal
        self.owner, self.context, self.types = owner, context, types
        self.cross_account = owner is not None and principal.account is not None and owner != principal.account

    def result(self, action: str, resource: str, *, listed: bool) -> dict[str, Any]:
        request = Request(action, resource, self.principal, self.context)
        decision = evaluate(request, self.policies, self.resource_policy, resource_account=self.owner)
        matched = self._matched(request, decision)
        missing = self._missing(request)
        result: dict[str, Any] = {
            "EvalActionName": action,
            "EvalResourceName": resource,
            "EvalDecision": decision.result,
            "MatchedStatements": matched,
            "MissingContextValues": [] if listed else missing,
        }
        boundary = self._boundary_detail(request)
        if boundary is not None:
            result["PermissionsBoundaryDecisionDetail"] = boundary
        if listed:
            details = self._details(request) if self.cross_account else {}
            result["EvalDecisionDetails"] = details
            specific: dict[str, Any] = {"EvalResourceName": resource, "EvalResourceDecision": decision.result,
                                        "MatchedStatements": matched, "MissingContextValues": missing}
            if self.cross_account:
                specific["EvalDecisionDetails"] = details  # the per-resource map is for cross-account only
            if boundary is not None:
                specific["PermissionsBoundaryDecisionDetail"] = boundary
            result["ResourceSpecificResults"] = [specific]
        return result

    def _reported(self) -> list[Policy]:
        return [*self.policies.identity, *([self.resource_policy] if self.resource_policy else [])]

    def _matched(self, request: Request, decision: Decision) -> list[dict[str, Any]]:
        if decision.result == "implicitDeny":
            return []
        effect = "Deny" if decision.result == "explicitDeny" else "Allow"
        return [self._statement(s) for s in matching_statements(self._reported(), request, effect)]

    def _statement(self, statement: Statement) -> dict[str, Any]:
        shape: dict[str, Any] = {"SourcePolicyId": statement.policy.policy_id}
        source_type = self.types.get(id(statement.policy))
        if source_type:
            shape["SourcePolicyType"] = source_type
        shape["StartPosition"] = {"Line": statement.start.line, "Column": statement.start.column}
        shape["EndPosition"] = {"Line": statement.end.line, "Column": statement.end.column}
        return shape

    def _missing(self, request: Request) -> list[str]:
        """Context keys used by statements that name the action and resource, but not supplied."""
        ctx = EvalContext(self.context)
        action = request.action.lower()
        missing: dict[str, str] = {}
        policies = [*self._reported(), *([self.policies.boundary] if self.policies.boundary else [])]
        for policy in policies:
            deny, allow = policy.candidates(action)
            for statement in deny + allow:
                if statement.resource_matcher is not None and statement.resource_matcher.matches(request.resource, ctx) == statement.not_resource:
                    continue
                for key in _keys_used(statement, policy.version == "2012-10-17"):
                    if not ctx.has(key.lower()):
                        missing.setdefault(key.lower(), key)
        return list(missing.values())

    def _boundary_detail(self, request: Request) -> dict[str, bool] | None:
        boundary = self.policies.boundary
        if boundary is None:
            return None
        only_boundary = PolicySet(identity=(boundary,))
        allowed = evaluate(Request(request.action, request.resource, self.principal, self.context), only_boundary).allowed
        return {"AllowedByPermissionsBoundary": allowed}

    def _details(self, request: Request) -> dict[str, str]:
        """Cross-account: how each side decided on its own."""
        identity = evaluate(request, self.policies).result
        resource_policy = self.resource_policy
        resource = "implicitDeny"
        if resource_policy is not None:
            owner_side = Principal(self.principal.arn, self.principal.principal_arn, self.owner, self.principal.type)
            resource = evaluate(Request(request.action, request.resource, owner_side, self.context), PolicySet(),
                                resource_policy, resource_account=self.owner).result
        return {"IAM Policy": identity, "Resource Policy": resource}


def _keys_used(statement: Statement, substitute: bool) -> list[str]:
    keys = [clause.key for clause in statement.clauses]
    if substitute:
        for text in [*(statement.resources or ()), *(v for c in statement.clauses for v in c.values)]:
            template = parse_template(text)
            if template is not None:
                keys.extend(template.keys)
    return keys
