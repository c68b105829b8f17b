"""CloudTrail: LookupEvents over keyless's event history (json protocol)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyless import errors
from keyless.services.base import RequestContext, Service, Target
from keyless.services.cloudtrail import handlers

if TYPE_CHECKING:
    from keyless.policy import Decision
    from keyless.server.state import AppState


class AccessDeniedException(errors.AwsError):
    code = "AccessDeniedException"
    status = 400


def _access(ctx: RequestContext, params: dict[str, Any]) -> list[Target]:
    return [Target(f"cloudtrail:{ctx.operation}", "*")]


def _denied(ctx: RequestContext, decision: Decision, target: Target) -> errors.AwsError:
    return AccessDeniedException(decision.aws_message(ctx.caller.arn or "anonymous", target.action, target.resource))


def service(state: AppState) -> Service:
    return Service.from_module("cloudtrail", handlers, ["LookupEvents"], _access, denied=_denied)
