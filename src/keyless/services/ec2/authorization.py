"""EC2's denial: UnauthorizedOperation 403, with AWS's sentence and an encoded authorization
failure message that only this keyless server can open.

The encoded message is the decision as AWS's DecodeAuthorizationMessage shows it (allowed,
explicitDeny, matchedStatements, failures, context {principal, action, resource, conditions}),
sealed with the master key (AES-GCM, keyless.credentials.encrypt_secret) and base64url-encoded,
so it reveals nothing to the caller; `decode_authorization_message` opens it (for STS
DecodeAuthorizationMessage).
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any, Mapping

from keyless.credentials import MasterKey, decrypt_secret, encrypt_secret
from keyless.services.base import RequestContext, Target
from keyless.services.ec2.errors import UnauthorizedOperation

if TYPE_CHECKING:
    from keyless.policy import Decision


def denied(ctx: RequestContext, decision: Decision, target: Target) -> UnauthorizedOperation:
    sentence = decision.aws_message(ctx.caller.arn or "anonymous", target.action, target.resource)
    encoded = encode_authorization_message(decision_document(ctx, decision, target), ctx.state.master_key)
    return UnauthorizedOperation(
        f"You are not authorized to perform this operation. {sentence}. Encoded authorization failure message: {encoded}")


def decision_document(ctx: RequestContext, decision: Decision, target: Target) -> dict[str, Any]:
    caller = ctx.caller
    context = {**ctx.context_keys, **target.context}
    return {
        "allowed": decision.allowed,
        "explicitDeny": decision.result == "explicitDeny",
        "matchedStatements": {"items": [_statement(s) for s in decision.matched]},
        "failures": {"items": []},
        "context": {
            "principal": {"id": caller.user_id, "name": caller.username or caller.user_id, "arn": caller.arn},
            "action": target.action,
            "resource": target.resource,
            "conditions": {"items": _conditions(context)},
        },
    }


def _statement(matched: Any) -> dict[str, Any]:
    return {"statementId": matched.sid or "", "effect": matched.effect, "policyId": matched.policy_id,
            "policyName": matched.policy_name, "policyType": matched.policy_kind}


def _conditions(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = []
    for key, value in sorted(context.items()):
        values = value if isinstance(value, (list, tuple)) else [value]
        items.append({"key": key, "values": {"items": [{"value": _text(v)} for v in values]}})
    return items


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_authorization_message(document: Mapping[str, Any], master_key: MasterKey) -> str:
    sealed = encrypt_secret(json.dumps(document, separators=(",", ":")), master_key)
    return base64.urlsafe_b64encode(sealed.encode("ascii")).decode("ascii").rstrip("=")


def decode_authorization_message(encoded: str, master_key: MasterKey) -> dict[str, Any]:
    """The decision document; raises ValueError (or SecretDecryptionError) when it is not ours."""
    sealed = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("ascii")
    return dict(json.loads(decrypt_secret(sealed, master_key)))
