"""keyless's IAM policy engine: pure (no I/O, nothing else from keyless), compiled, explained.

    policy = parse_policy(text, PolicyKind.IDENTITY, name="p", policy_id="arn:...")   # once
    decision = evaluate(Request(action, resource, principal, context), PolicySet((policy,)))
    decision.allowed, decision.result, decision.aws_message(arn, action, resource)

Modules: document (grammar, validation), model (compiled policies), match/resources/variables/
operators/conditions (the pieces compiled into closures), evaluate (the decision), explain,
simulate (IAM Simulate* semantics), jsontext (JSON with statement positions).
"""

from __future__ import annotations

from keyless.policy.document import PolicyKind, check_size, policy_size
from keyless.policy.errors import PolicyError, PolicySizeError, SimulationInputError
from keyless.policy.evaluate import (
    Decision,
    MatchedStatement,
    PolicySet,
    Request,
    evaluate,
    evaluate_trust,
)
from keyless.policy.model import Policy, Position, Statement, parse_policy
from keyless.policy.principals import ANONYMOUS, Principal
from keyless.policy.simulate import PolicyInput, simulate

__all__ = [
    "ANONYMOUS",
    "Decision",
    "MatchedStatement",
    "Policy",
    "PolicyError",
    "PolicyInput",
    "PolicyKind",
    "PolicySet",
    "PolicySizeError",
    "Position",
    "Principal",
    "Request",
    "SimulationInputError",
    "Statement",
    "check_size",
    "evaluate",
    "evaluate_trust",
    "parse_policy",
    "policy_size",
    "simulate",
]
