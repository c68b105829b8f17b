"""What every service provides to the pipeline, and what the pipeline gives each handler.

A service is: a botocore model name, handler functions named after operations (xform_name),
an access map (operation + input -> the IAM actions, resources and condition keys AWS checks),
and the error AWS returns when the engine says no.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple

from botocore import xform_name

from keyless import errors
from keyless.auth.principals import Caller
from keyless.protocol.http import HttpRequest
from keyless.trail.events import decided

if TYPE_CHECKING:
    from keyless.policy import Decision, Policy
    from keyless.server.state import AppState


_NO_CONTEXT: Mapping[str, Any] = MappingProxyType({})


class Target(NamedTuple):
    """One authorization question: may the caller do `action` on `resource`? (A named tuple: the
    access maps make one or more per request.)"""

    action: str
    resource: str
    context: Mapping[str, Any] = _NO_CONTEXT  # shared: most targets add no condition keys
    resource_policy: Policy | None = None
    resource_account: str | None = None


@dataclass(slots=True)
class RequestContext:
    state: AppState
    caller: Caller
    request: HttpRequest
    operation: str
    request_id: str
    region: str
    service: str
    context_keys: Mapping[str, Any] = field(default_factory=dict)  # the global condition keys
    # Every decision taken, as plain text (action, resource, result, reason), for the trail.
    decisions: list[tuple[str, str, str, str]] = field(default_factory=list)
    signature: Any = None  # keyless.auth.sigv4.SigV4Params of a signed request (S3 condition keys)
    signing: Any = None  # keyless.auth.sigv4.SigningContext (aws-chunked chunk signatures)

    @property
    def account(self) -> str:
        return self.state.settings.account_id


Handler = Callable[[RequestContext, dict[str, Any]], Any]
AccessMap = Callable[[RequestContext, dict[str, Any]], list[Target]]


def access_denied(ctx: RequestContext, decision: Decision, target: Target) -> errors.AwsError:
    """IAM/STS/CloudTrail: AccessDenied 403 with AWS's sentence."""
    return errors.AccessDenied(decision.aws_message(ctx.caller.arn or "anonymous", target.action, target.resource))


@dataclass(frozen=True)
class Service:
    name: str  # botocore service name; also the SigV4 signing name
    handlers: Mapping[str, Handler]  # by operation name (CreateRole)
    access: AccessMap
    denied: Callable[[RequestContext, Decision, Target], errors.AwsError] = access_denied
    allow_anonymous: frozenset[str] = frozenset()  # operations AWS serves unsigned
    # Read operations whose output depends only on IAM state, caller and input: the pipeline keeps
    # their answers (KeylessApp._keep) until the next IAM write (Database.generation), so the same
    # read again skips parsing, the handler and the store. Form-protocol services only.
    cacheable_reads: frozenset[str] = frozenset()

    @classmethod
    def from_module(cls, name: str, module: ModuleType, operations: list[str], access: AccessMap, **kw: Any) -> Service:
        """Collect handlers by botocore's xform_name: CreateRole -> create_role."""
        handlers = {op: getattr(module, xform_name(op)) for op in operations if hasattr(module, xform_name(op))}
        return cls(name=name, handlers=handlers, access=access, **kw)


def enforce(ctx: RequestContext, service_denied: Callable[[RequestContext, Decision, Target], errors.AwsError],
            decision: Decision, target: Target) -> None:
    """Record one decision and apply the server's enforcement mode: `on` raises, `learn` and `off` let it pass."""
    ctx.decisions.append(decided(target.action, target.resource, decision))
    if not decision.allowed and ctx.state.settings.enforce == "on":
        raise service_denied(ctx, decision, target)


async def call_handler(handler: Handler, ctx: RequestContext, params: dict[str, Any]) -> Any:
    result = handler(ctx, params)
    if type(result) is not dict and inspect.isawaitable(result):  # dict first: isawaitable is an ABC check
        result = await result
    return result
