"""STS access map. GetCallerIdentity needs no permission (even an explicit deny cannot block it)
and GetSessionToken authenticates rather than authorizes; AssumeRole's check needs the trust
policy, so its handler asks the engine itself (keyless.policy.evaluate_trust).
"""

from __future__ import annotations

from typing import Any

from keyless.services.base import RequestContext, Target


def access(ctx: RequestContext, params: dict[str, Any]) -> list[Target]:
    if ctx.operation == "DecodeAuthorizationMessage":
        return [Target("sts:DecodeAuthorizationMessage", "*")]
    return []
