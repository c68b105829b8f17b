"""SimulateCustomPolicy and SimulatePrincipalPolicy: the engine's simulator over IAM's inputs.

SimulatePrincipalPolicy gathers the user's or role's inline and attached policies (and its
permissions boundary) from the store; like AWS, the simulation sees only the context entries
given and fills nothing from the HTTP request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from keyless.arn import Arn
from keyless.policy import PolicyError, PolicyInput, SimulationInputError, simulate
from keyless.services.base import RequestContext
from keyless.services.iam import entities
from keyless.services.iam.errors import InvalidInput, MalformedPolicyDocument, NoSuchEntity
from keyless.services.iam.pagination import paginate
from keyless.store import aws_managed
from keyless.store import iam as iam_store

__all__ = ["simulate_custom_policy", "simulate_principal_policy"]


def simulate_custom_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return _run(params, list(params["PolicyInputList"]), list(params.get("PermissionsBoundaryPolicyInputList") or ()),
                params.get("CallerArn"))


def simulate_principal_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    source = params["PolicySourceArn"]
    kind, name = _principal_of(source, ctx.account)
    excluded = _exclusions(params.get("PolicyExclusionList") or ())
    with ctx.state.db.read() as conn:
        owner = (entities.user_named if kind == "user" else entities.role_named)(conn, ctx, name)
        if owner["arn"] != source:
            raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
        inputs = _principal_policies(conn, ctx, kind, owner, excluded)
        boundary = _boundary_input(conn, ctx, owner)
    inputs += list(params.get("PolicyInputList") or ())
    boundaries = list(params.get("PermissionsBoundaryPolicyInputList") or ()) or boundary
    caller = params.get("CallerArn") or (source if kind == "user" else None)
    return _run(params, inputs, boundaries, caller)


def _run(params: dict[str, Any], inputs: list[Any], boundaries: list[Any], caller: str | None) -> dict[str, Any]:
    try:
        results = simulate(
            inputs, params["ActionNames"], resource_arns=params.get("ResourceArns") or None, boundary_inputs=boundaries,
            resource_policy=params.get("ResourcePolicy"), resource_owner=params.get("ResourceOwner"),
            caller_arn=caller, context_entries=params.get("ContextEntries") or (),
        )
    except PolicyError as exc:
        raise MalformedPolicyDocument(exc.message) from None
    except SimulationInputError as exc:
        raise InvalidInput(exc.message) from None
    page, more = paginate(results, params)
    return {"EvaluationResults": page, **more}


def _principal_of(arn: str, account: str) -> tuple[str, str]:
    try:
        parsed = Arn.parse(arn)
    except ValueError:
        raise InvalidInput(f"Invalid ARN: {arn}") from None
    kind = parsed.resource_type
    if parsed.service != "iam" or kind not in ("user", "role"):
        raise InvalidInput(f"Invalid policy source ARN: {arn}; a user or role ARN is expected.")
    if parsed.account != account:
        raise NoSuchEntity(f"The {kind} with name {parsed.name} cannot be found.")
    return kind, parsed.name


def _exclusions(items: Any) -> set[str]:
    """Managed policies by ARN and inline policies by name that PolicyExclusionList leaves out."""
    out: set[str] = set()
    for item in items:
        if item.get("PolicyArn"):
            out.add(item["PolicyArn"])
        inline = item.get("InlinePolicyIdentifier") or {}
        if inline.get("PolicyName"):
            out.add(f"inline:{inline['PolicyName']}")
    return out


def _principal_policies(conn: Connection, ctx: RequestContext, kind: str, owner: dict[str, Any],
                        excluded: set[str]) -> list[PolicyInput]:
    inputs = [PolicyInput(doc, source_id=name, source_type=kind)
              for name, doc in iam_store.inline_policy_documents(conn, kind, owner["id"]) if f"inline:{name}" not in excluded]
    for arn in iam_store.attached_policy_arns(conn, kind, owner["id"]):
        if arn in excluded:
            continue
        row = entities.managed_policy(conn, ctx, arn)
        source_type = "aws-managed" if aws_managed.is_aws_managed(arn) else "user-managed"
        inputs.append(PolicyInput(entities.policy_document(conn, row), source_id=row["name"], source_type=source_type))
    return inputs


def _boundary_input(conn: Connection, ctx: RequestContext, owner: dict[str, Any]) -> list[PolicyInput]:
    if not owner.get("boundary_arn"):
        return []
    row = entities.managed_policy(conn, ctx, owner["boundary_arn"])
    return [PolicyInput(entities.policy_document(conn, row), source_id=row["name"], source_type="none")]
