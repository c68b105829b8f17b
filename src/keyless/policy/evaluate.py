"""The decision, in AWS's order [eval]:

 1. an explicit Deny in any applicable policy (identity, resource, boundary, session) wins;
 2. a same-account resource policy naming the caller exactly (user, role session, federated user,
    service, "*") allows on its own; naming the role ARN allows unless the boundary or a session
    policy implicitly denies; naming the account only delegates to step 3;
 3. otherwise identity policies must allow, and so must the boundary and the session policies
    when they exist (intersection);
 cross-account requests (and role trust, which is always required) need both the resource
 policy and step 3. Root is limited only by explicit denies and, across accounts, resource policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable, Mapping, NamedTuple

from keyless.policy.context import EvalContext
from keyless.policy.model import Policy, Statement
from keyless.policy.principals import EXACT, ROLE, Principal

IDENTITY = "identity-based policy"
RESOURCE = "resource-based policy"
BOUNDARY = "permissions boundary"
SESSION = "session policy"
TRUST = "role trust policy"

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitDeny", "implicitDeny"
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Request(NamedTuple):
    """One question for the engine. Request and Decision are named tuples, not frozen dataclasses:
    one of each is made per decision, and a tuple costs half as much to build."""

    action: str
    resource: str
    principal: Principal
    context: Mapping[str, Any] = _EMPTY


@dataclass(frozen=True, slots=True)
class PolicySet:
    """A principal's compiled policies (user: inline + managed + groups'; role: its own)."""

    identity: tuple[Policy, ...] = ()
    boundary: Policy | None = None
    session: tuple[Policy, ...] | None = None  # None: not a session with session policies

    def __post_init__(self) -> None:
        # Sets are hashed (decision plans are cached per set), so lists become tuples.
        if not isinstance(self.identity, tuple):
            object.__setattr__(self, "identity", tuple(self.identity))
        if self.session is not None and not isinstance(self.session, tuple):
            object.__setattr__(self, "session", tuple(self.session))


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    policy_id: str
    policy_name: str
    policy_kind: str
    sid: str | None
    index: int
    effect: str
    start: tuple[int, int]
    end: tuple[int, int]

    @classmethod
    def of(cls, statement: Statement) -> MatchedStatement:
        ref = statement.policy
        return cls(ref.policy_id, ref.name, ref.kind.value, statement.sid, statement.index, statement.effect,
                   (statement.start.line, statement.start.column), (statement.end.line, statement.end.column))


class Decision(NamedTuple):
    result: str  # allowed | explicitDeny | implicitDeny
    denied_by: str | None
    statements: tuple[Statement, ...]  # the statements that decided it
    trace: tuple[Any, ...] = ()  # (request, policies, resource policy, resource account, trust) for explanations

    @property
    def allowed(self) -> bool:
        return self.result == ALLOWED

    @property
    def matched(self) -> tuple[MatchedStatement, ...]:
        return tuple(MatchedStatement.of(s) for s in self.statements)

    @property
    def explanation(self) -> str:
        from keyless.policy.explain import explain

        return explain(self)

    def aws_message(self, principal_arn: str | None, action: str, resource: str | None) -> str:
        """AWS's AccessDenied sentence [ad]; empty for an allowed decision."""
        if self.allowed:
            return ""
        text = f"User: {principal_arn or 'anonymous'} is not authorized to perform: {action}"
        if resource and resource != "*":
            text += f" on resource: {resource}"
        if self.result == IMPLICIT_DENY:
            return f"{text} because no {self.denied_by} allows the {action} action"
        article = "the" if self.denied_by == TRUST else "an" if self.denied_by == IDENTITY else "a"
        text += f" with an explicit deny in {article} {self.denied_by}"
        policy_id = self.statements[0].policy.policy_id if self.statements else ""
        if self.denied_by == IDENTITY and policy_id.startswith("arn:"):
            text += f": {policy_id}"  # managed policies are named; inline ones are not
        return text


def evaluate(
    request: Request, policies: PolicySet, resource_policy: Policy | None = None, *, resource_account: str | None = None
) -> Decision:
    return _decide(request, policies, resource_policy, resource_account, trust=False)


def evaluate_trust(
    request: Request, trust_policy: Policy, policies: PolicySet | None = None, *, role_account: str | None = None
) -> Decision:
    """May the caller assume the role? The trust policy must allow in every case; within the
    account, naming the caller (user/session ARN) suffices, naming the account also needs an
    identity allow, and another account's caller always needs both [eval, sts AssumeRole]."""
    if role_account is None:
        parts = request.resource.split(":")
        role_account = parts[4] if len(parts) > 5 else None
    return _decide(request, policies or PolicySet(), trust_policy, role_account, trust=True)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A policy set's statements that name one action, gathered once per (set, action)."""

    identity_denies: tuple[Statement, ...]
    limit_denies: tuple[tuple[str, Statement], ...]  # boundary, then session policies
    identity_allows: tuple[Statement, ...]
    boundary_allows: tuple[Statement, ...] | None  # None: no boundary
    session_allows: tuple[Statement, ...] | None  # None: no session policies


_PLANS: dict[PolicySet, dict[str, _Plan]] = {}
_PLAN_LIMIT = 4096


def clear_plan_cache() -> None:
    """Forget every gathered plan (benchmarks measure the cold path with it)."""
    _PLANS.clear()


def _plan(policies: PolicySet, action: str) -> _Plan:
    per_set = _PLANS.get(policies)
    if per_set is None:
        if len(_PLANS) >= _PLAN_LIMIT:
            _PLANS.clear()
        per_set = _PLANS[policies] = {}
    plan = per_set.get(action)
    if plan is None:
        if len(per_set) >= _PLAN_LIMIT:
            per_set.clear()
        plan = per_set[action] = _build_plan(policies, action)
    return plan


def _build_plan(policies: PolicySet, action: str) -> _Plan:
    def gather(group: Iterable[Policy], which: int) -> tuple[Statement, ...]:
        return tuple(s for policy in group for s in policy.candidates(action)[which])

    boundary = () if policies.boundary is None else (policies.boundary,)
    limit_denies = tuple((BOUNDARY, s) for s in gather(boundary, 0)) + tuple(
        (SESSION, s) for s in gather(policies.session or (), 0))
    return _Plan(
        identity_denies=gather(policies.identity, 0),
        limit_denies=limit_denies,
        identity_allows=gather(policies.identity, 1),
        boundary_allows=None if policies.boundary is None else gather(boundary, 1),
        session_allows=None if policies.session is None else gather(policies.session, 1),
    )


def _decide(request: Request, policies: PolicySet, resource_policy: Policy | None, resource_account: str | None,
            trust: bool) -> Decision:
    action, resource, principal = request.action.lower(), request.resource, request.principal
    plan = _plan(policies, action)
    ctx = EvalContext(request.context)
    trace = (request, policies, resource_policy, resource_account, trust)
    resource_label = TRUST if trust else RESOURCE

    for statement in plan.identity_denies:
        if statement.applies(resource, ctx):
            return Decision(EXPLICIT_DENY, IDENTITY, (statement,), trace)
    if resource_policy is not None:
        for statement in resource_policy.candidates(action)[0]:
            if statement.grant(principal) is not None and statement.applies(resource, ctx):
                return Decision(EXPLICIT_DENY, resource_label, (statement,), trace)
    for label, statement in plan.limit_denies:
        if statement.applies(resource, ctx):
            return Decision(EXPLICIT_DENY, label, (statement,), trace)

    if resource_policy is None and plan.boundary_allows is None and plan.session_allows is None \
            and principal.type == "User" and principal.arn \
            and (resource_account is None or resource_account == principal.account):
        # The common case, an IAM user with identity policies only: the first applicable Allow decides.
        for statement in plan.identity_allows:
            if statement.applies(resource, ctx):
                return Decision(ALLOWED, None, (statement,), trace)
        return Decision(IMPLICIT_DENY, IDENTITY, (), trace)

    grant, grant_statement = None, None
    if resource_policy is not None:
        grant, grant_statement = _resource_allow(resource_policy, action, resource, ctx, principal)
    if principal.arn is None or principal.type == "Service":  # anonymous callers and AWS services
        if grant is not None and grant_statement is not None:
            return Decision(ALLOWED, None, (grant_statement,), trace)
        return Decision(IMPLICIT_DENY, resource_label, (), trace)

    cross_account = resource_account is not None and principal.account is not None and resource_account != principal.account
    if grant is None and (trust or cross_account):
        return Decision(IMPLICIT_DENY, resource_label, (), trace)
    if not cross_account and grant_statement is not None and grant == EXACT:
        return Decision(ALLOWED, None, (grant_statement,), trace)
    return _identity_path(plan, resource, ctx, principal, grant, grant_statement, cross_account, trace)


def _first(statements: tuple[Statement, ...] | None, resource: str, ctx: EvalContext) -> Statement | None:
    for statement in statements or ():
        if statement.applies(resource, ctx):
            return statement
    return None


def _identity_path(plan: _Plan, resource: str, ctx: EvalContext, principal: Principal, grant: str | None,
                   grant_statement: Statement | None, cross_account: bool, trace: tuple[Any, ...]) -> Decision:
    root = principal.type == "Root"
    boundary_statement = None if root else _first(plan.boundary_allows, resource, ctx)
    session_statement = None if root else _first(plan.session_allows, resource, ctx)
    boundary_ok = plan.boundary_allows is None or root or boundary_statement is not None
    session_ok = plan.session_allows is None or root or session_statement is not None
    limits = tuple(s for s in (boundary_statement, session_statement) if s is not None)
    if grant == ROLE and not cross_account and grant_statement is not None and boundary_ok and session_ok:
        return Decision(ALLOWED, None, (grant_statement, *limits), trace)
    identity_statement = None if root else _first(plan.identity_allows, resource, ctx)
    if (root or identity_statement is not None) and boundary_ok and session_ok:
        used = tuple(s for s in (grant_statement if cross_account else None, identity_statement) if s is not None)
        return Decision(ALLOWED, None, used + limits, trace)
    if grant == ROLE and not cross_account:
        denied_by = BOUNDARY if not boundary_ok else SESSION
    else:
        denied_by = IDENTITY if not (root or identity_statement) else BOUNDARY if not boundary_ok else SESSION
    return Decision(IMPLICIT_DENY, denied_by, (), trace)


_STRENGTH = {EXACT: 3, ROLE: 2}


def _resource_allow(policy: Policy, action: str, resource: str, ctx: EvalContext,
                    principal: Principal) -> tuple[str | None, Statement | None]:
    """The strongest way any applicable Allow statement names the caller."""
    best, best_statement = None, None
    for statement in policy.candidates(action)[1]:
        grant = statement.grant(principal)
        if grant is None or (best is not None and _STRENGTH.get(grant, 1) <= _STRENGTH.get(best, 1)):
            continue
        if statement.applies(resource, ctx):
            best, best_statement = grant, statement
            if grant == EXACT:
                break
    return best, best_statement


def matching_statements(policies: Iterable[Policy], request: Request, effect: str) -> list[Statement]:
    """Every statement of `effect` that applies to the request (for the simulator and explanations)."""
    ctx = EvalContext(request.context)
    action = request.action.lower()
    found = []
    for policy in policies:
        deny, allow = policy.candidates(action)
        for statement in deny if effect == "Deny" else allow:
            if statement.grant(request.principal) is not None and statement.applies(request.resource, ctx):
                found.append(statement)
    return found
