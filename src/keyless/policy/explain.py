"""The local explanation of a decision: which policy and statement decided, or why none did.

Only built when asked for (CLI, audit trail, simulator), so it may re-walk the policies slowly:
every statement that names the action is listed with the reason it did or did not apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keyless.policy.context import EvalContext
from keyless.policy.model import Policy, Statement

if TYPE_CHECKING:
    from keyless.policy.evaluate import Decision, PolicySet, Request


def explain(decision: Decision) -> str:
    if not decision.trace:
        return f"{decision.result}"
    request, policies, resource_policy, resource_account, trust = decision.trace
    lines = [_headline(decision, request), f"  caller: {_caller(request)}"]
    if decision.statements:
        verb = "denied by" if decision.result == "explicitDeny" else "allowed by"
        lines += [f"  {verb} {s.label()}: {_summary(s)}" for s in decision.statements]
    lines += _walk(request, policies, resource_policy, trust)
    if resource_account and request.principal.account and resource_account != request.principal.account:
        lines.append(f"  cross-account: resource owned by {resource_account}, caller in {request.principal.account}"
                     " (both the resource policy and the caller's own policies must allow)")
    return "\n".join(lines)


def _caller(request: Request) -> str:
    principal = request.principal
    if principal.arn is None:
        return "anonymous"
    return f"{principal.arn or '(no caller ARN given)'} ({principal.type})"


def _headline(decision: Decision, request: Request) -> str:
    target = f"{request.action} on {request.resource}"
    if decision.result == "allowed":
        return f"allowed: {target}"
    if decision.result == "explicitDeny":
        article = "an" if decision.denied_by == "identity-based policy" else "the" if decision.denied_by == "role trust policy" else "a"
        return f"explicitDeny: {target} (an explicit Deny in {article} {decision.denied_by})"
    return f"implicitDeny: {target} (no {decision.denied_by} allows it)"


def _walk(request: Request, policies: PolicySet, resource_policy: Policy | None, trust: bool) -> list[str]:
    groups: list[tuple[str, tuple[Policy, ...]]] = [("identity-based policies", policies.identity)]
    if resource_policy is not None:
        groups.append(("role trust policy" if trust else "resource-based policy", (resource_policy,)))
    if policies.boundary is not None:
        groups.append(("permissions boundary", (policies.boundary,)))
    if policies.session is not None:
        groups.append(("session policies", policies.session))
    ctx = EvalContext(request.context)
    lines = []
    for title, group in groups:
        names = ", ".join(p.label() for p in group) or "none"
        lines.append(f"  {title}: {names}")
        notes = [note for policy in group for note in _statement_notes(policy, request, ctx)]
        lines += notes or [f"    no statement names {request.action}"]
    return lines


def _statement_notes(policy: Policy, request: Request, ctx: EvalContext) -> list[str]:
    deny, allow = policy.candidates(request.action.lower())
    notes = []
    for statement in sorted(deny + allow, key=lambda s: s.index):
        notes.append(f"    {statement.label()} ({statement.effect}): {_why(statement, request, ctx)}")
    return notes


def _why(statement: Statement, request: Request, ctx: EvalContext) -> str:
    if statement.grant(request.principal) is None:
        element = "NotPrincipal lists" if statement.not_principal else "Principal does not name"
        return f"{element} the caller"
    if statement.resource_matcher is not None:
        matched = statement.resource_matcher.matches(request.resource, ctx)
        if matched == statement.not_resource:
            element = "NotResource" if statement.not_resource else "Resource"
            return f"{element} {list(statement.resources or ())} does not cover {request.resource}"
    failed = [clause.describe() for clause in statement.clauses if not clause.check(ctx)]
    if failed:
        return "condition not met: " + "; ".join(failed)
    return "applies"


def _summary(statement: Statement) -> str:
    element = "NotAction" if statement.not_action else "Action"
    parts = [f"{element} {list(statement.actions)}"]
    if statement.resources is not None:
        parts.append(f"{'NotResource' if statement.not_resource else 'Resource'} {list(statement.resources)}")
    if statement.clauses:
        parts.append("Condition " + "; ".join(c.describe() for c in statement.clauses))
    return ", ".join(parts)
