"""EC2 access map: operation + input -> the actions, resources and condition keys AWS checks.

Per the Service Authorization Reference for EC2: Describe* act on "*"; instance operations on
arn:aws:ec2:REGION:ACCOUNT:instance/ID (one target per instance); RunInstances on instance/* and
on the image (images carry no account); tag-on-create also needs ec2:CreateTags with
ec2:CreateAction=RunInstances. Launching or associating with an instance profile needs
iam:PassRole on the profile's role, with iam:PassedToService=ec2.amazonaws.com [ec2r] - a
check, not an API, decided by the same engine through the same pipeline step.

Condition keys set: ec2:InstanceType, ec2:ImageId, ec2:InstanceProfile, ec2:Metadata* (launch and
ModifyInstanceMetadataOptions), aws:RequestTag/K and aws:TagKeys (tags on create),
ec2:ResourceTag/K and aws:ResourceTag/K (existing instances), iam:PassedToService and
iam:AssociatedResourceArn (PassRole).
"""

from __future__ import annotations

from typing import Any, Callable

from keyless.services.base import RequestContext, Target
from keyless.services.ec2.profiles import ProfileLookup
from keyless.store import ec2 as ec2_store

DESCRIBES = frozenset({"DescribeInstances", "DescribeInstanceStatus", "DescribeIamInstanceProfileAssociations"})
PER_INSTANCE = frozenset({"StartInstances", "StopInstances", "TerminateInstances", "RebootInstances"})
METADATA_KEYS = {"HttpTokens": "ec2:MetadataHttpTokens", "HttpPutResponseHopLimit": "ec2:MetadataHttpPutResponseHopLimit",
                 "HttpEndpoint": "ec2:MetadataHttpEndpoint", "InstanceMetadataTags": "ec2:InstanceMetadataTags"}


def instance_arn(ctx: RequestContext, instance_id: str) -> str:
    return f"arn:aws:ec2:{ctx.region}:{ctx.account}:instance/{instance_id}"


def access_map(profiles: ProfileLookup) -> Callable[[RequestContext, dict[str, Any]], list[Target]]:
    def access(ctx: RequestContext, params: dict[str, Any]) -> list[Target]:
        op = ctx.operation
        action = f"ec2:{op}"
        if op in DESCRIBES:
            return [Target(action, "*")]
        if op in PER_INSTANCE:
            return [_instance_target(ctx, action, i) for i in params.get("InstanceIds") or ()]
        if op == "RunInstances":
            return _run_instances(ctx, params, profiles)
        if op == "AssociateIamInstanceProfile":
            return [_instance_target(ctx, action, params.get("InstanceId", "")),
                    *_pass_role(ctx, profiles, params.get("IamInstanceProfile"), params.get("InstanceId"))]
        if op == "ReplaceIamInstanceProfileAssociation":
            instance_id = _association_instance(ctx, params.get("AssociationId", ""))
            target = _instance_target(ctx, action, instance_id) if instance_id else Target(action, instance_arn(ctx, "*"))
            return [target, *_pass_role(ctx, profiles, params.get("IamInstanceProfile"), instance_id)]
        if op == "DisassociateIamInstanceProfile":
            instance_id = _association_instance(ctx, params.get("AssociationId", ""))
            return [_instance_target(ctx, action, instance_id) if instance_id else Target(action, instance_arn(ctx, "*"))]
        if op == "ModifyInstanceMetadataOptions":
            target = _instance_target(ctx, action, params.get("InstanceId", ""))
            return [Target(target.action, target.resource, {**target.context, **_metadata_context(params)})]
        return [Target(action, "*")]

    return access


def _run_instances(ctx: RequestContext, params: dict[str, Any], profiles: ProfileLookup) -> list[Target]:
    context: dict[str, Any] = {"ec2:InstanceType": params.get("InstanceType", "m1.small"),
                               **_metadata_context(params.get("MetadataOptions") or {})}
    if params.get("ImageId"):
        context["ec2:ImageId"] = params["ImageId"]
    profile = profiles.find(ctx.account, params["IamInstanceProfile"]) if _names_profile(params.get("IamInstanceProfile")) else None
    if profile is not None:
        context["ec2:InstanceProfile"] = profile.arn
    tags = _launch_tags(params)
    tag_context = {f"aws:RequestTag/{t['Key']}": t["Value"] for t in tags}
    if tags:
        tag_context["aws:TagKeys"] = [t["Key"] for t in tags]
    everything = instance_arn(ctx, "*")
    targets = [Target("ec2:RunInstances", everything, {**context, **tag_context})]
    if params.get("ImageId"):
        targets.append(Target("ec2:RunInstances", f"arn:aws:ec2:{ctx.region}::image/{params['ImageId']}", context))
    if tags:
        targets.append(Target("ec2:CreateTags", everything, {"ec2:CreateAction": "RunInstances", **tag_context}))
    return targets + _pass_role(ctx, profiles, params.get("IamInstanceProfile"), None)


def _pass_role(ctx: RequestContext, profiles: ProfileLookup, spec: dict[str, Any] | None,
               instance_id: str | None) -> list[Target]:
    """iam:PassRole on the profile's role; nothing when the profile or its role is missing (the
    handler then answers InvalidParameterValue, as EC2 does)."""
    if not _names_profile(spec):
        return []
    profile = profiles.find(ctx.account, spec or {})
    if profile is None or profile.role_arn is None:
        return []
    context = {"iam:PassedToService": "ec2.amazonaws.com",
               "iam:AssociatedResourceArn": instance_arn(ctx, instance_id or "*")}
    return [Target("iam:PassRole", profile.role_arn, context)]


def _instance_target(ctx: RequestContext, action: str, instance_id: str) -> Target:
    with ctx.state.db.read() as conn:
        row = ec2_store.get_instance(conn, ctx.account, instance_id) if instance_id else None
        association = ec2_store.current_association(conn, instance_id) if row else None
    context: dict[str, Any] = {}
    if row is not None:
        for tag in ec2_store.tags(row):
            context[f"ec2:ResourceTag/{tag['Key']}"] = tag["Value"]
            context[f"aws:ResourceTag/{tag['Key']}"] = tag["Value"]
        context["ec2:InstanceType"] = row["instance_type"]
        if association is not None:
            context["ec2:InstanceProfile"] = association["profile_arn"]
    return Target(action, instance_arn(ctx, instance_id), context)


def _association_instance(ctx: RequestContext, association_id: str) -> str | None:
    with ctx.state.db.read() as conn:
        row = ec2_store.get_association(conn, ctx.account, association_id)
    return row["instance_id"] if row else None


def _metadata_context(options: dict[str, Any]) -> dict[str, Any]:
    return {key: str(options[name]) for name, key in METADATA_KEYS.items() if options.get(name) is not None}


def _launch_tags(params: dict[str, Any]) -> list[dict[str, str]]:
    return [t for spec in params.get("TagSpecifications") or () for t in spec.get("Tags") or ()]


def _names_profile(spec: dict[str, Any] | None) -> bool:
    return bool(spec) and bool((spec or {}).get("Arn") or (spec or {}).get("Name"))
