"""Managed policies and their versions.

Customer-managed policies live in the store; AWS-managed ones are the bundled catalog: they can
be read and attached but not changed (AWS answers AccessDenied "... outside your own account").
"""

from __future__ import annotations

import json
from typing import Any

from keyless import ids
from keyless.arn import iam_arn
from keyless.services.base import RequestContext
from keyless.services.iam import documents, entities, shapes, validate
from keyless.services.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from keyless.services.iam.pagination import paginate
from keyless.store import aws_managed
from keyless.store import iam as iam_store

__all__ = [
    "create_policy", "get_policy", "list_policies", "delete_policy", "create_policy_version",
    "get_policy_version", "list_policy_versions", "delete_policy_version", "set_default_policy_version",
]

VERSIONS_PER_POLICY = 5


def create_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name, path, document = params["PolicyName"], params.get("Path") or "/", params["PolicyDocument"]
    validate.check_name(name, "policyName", 128)
    validate.check_path(path)
    tags = validate.tags_from(params, "Policy")
    documents.check_managed(document)
    now = ctx.state.clock.time()
    row = {"id": ids.policy_id(), "account": ctx.account, "name": name, "path": path,
           "arn": iam_arn(ctx.account, "policy", name, path), "description": params.get("Description"),
           "default_version": "v1", "next_version": 2, "created": now, "updated": now, "tags": json.dumps(tags)}
    with ctx.state.db.begin() as conn:
        if not iam_store.insert_managed_policy(conn, **row):
            raise EntityAlreadyExists(f"A policy called {name} already exists. Duplicate names are not allowed.")
        iam_store.insert_policy_version_limited(conn, VERSIONS_PER_POLICY, policy_arn=row["arn"], version_id="v1",
                                                document=document, created=now)
    return {"Policy": shapes.policy(row, 0, 0, "create")}


def get_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        row = entities.managed_policy(conn, ctx, params["PolicyArn"])
        attached, bounded = iam_store.attachment_counts(conn), iam_store.boundary_counts(conn)
    return {"Policy": shapes.policy(row, attached.get(row["arn"], 0), bounded.get(row["arn"], 0), "get")}


def list_policies(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    scope, prefix = params.get("Scope") or "All", validate.path_prefix(params)
    with ctx.state.db.read() as conn:
        rows: list[dict[str, Any]] = []
        if scope in ("All", "AWS"):
            rows += [entities.aws_managed_row(arn) or {} for arn in aws_managed.catalog()]
        if scope in ("All", "Local"):
            rows += iam_store.list_managed_policies(conn, ctx.account)
        attached, bounded = iam_store.attachment_counts(conn), iam_store.boundary_counts(conn)
    rows = [r for r in rows if r["path"].startswith(prefix) and _in_use(r["arn"], params, attached, bounded)]
    rows.sort(key=lambda r: (r["name"].lower(), r["arn"]))
    page, more = paginate(rows, params)
    return {"Policies": [shapes.policy(r, attached.get(r["arn"], 0), bounded.get(r["arn"], 0), "list") for r in page],
            **more}


def _in_use(arn: str, params: dict[str, Any], attached: dict[str, int], bounded: dict[str, int]) -> bool:
    usage = params.get("PolicyUsageFilter")
    if usage == "PermissionsPolicy" and not attached.get(arn):
        return False
    if usage == "PermissionsBoundary" and not bounded.get(arn):
        return False
    return not params.get("OnlyAttached") or bool(attached.get(arn))


def delete_policy(ctx: RequestContext, params: dict[str, Any]) -> None:
    arn = params["PolicyArn"]
    with ctx.state.db.begin() as conn:
        row = entities.customer_policy(conn, ctx, arn, "Cannot delete policies outside your own account.")
        if iam_store.attachment_counts(conn).get(arn) or iam_store.boundary_counts(conn).get(arn):
            raise DeleteConflict("Cannot delete a policy attached to entities.")
        if len(iam_store.list_policy_versions(conn, arn)) > 1:
            raise DeleteConflict("This policy has more than one version. Before you delete a policy, you must delete "
                                 "the policy's versions. The default version is deleted with the policy.")
        iam_store.delete_managed_policy(conn, row["arn"])


def create_policy_version(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    arn, document = params["PolicyArn"], params["PolicyDocument"]
    now = ctx.state.clock.time()
    with ctx.state.db.begin() as conn:
        row = entities.customer_policy(conn, ctx, arn, "Cannot create versions for policies outside your own account.")
        documents.check_managed(document)
        version_id = iam_store.next_version_id(conn, arn)
        version = {"policy_arn": arn, "version_id": version_id, "document": document, "created": now}
        if not iam_store.insert_policy_version_limited(conn, VERSIONS_PER_POLICY, **version):
            raise LimitExceeded(f"A managed policy can have up to {VERSIONS_PER_POLICY} versions. Before you create "
                                "a new version, you must delete an existing version.")
        default = version_id if params.get("SetAsDefault") else row["default_version"]
        iam_store.update_managed_policy(conn, arn, default_version=default, updated=now)
    return {"PolicyVersion": shapes.policy_version(version, default, with_document=False)}


def get_policy_version(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    arn, version_id = params["PolicyArn"], params["VersionId"]
    with ctx.state.db.read() as conn:
        row = entities.managed_policy(conn, ctx, arn)
        version = _version(conn, row, version_id)
    return {"PolicyVersion": shapes.policy_version(version, row["default_version"])}


def list_policy_versions(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        row = entities.managed_policy(conn, ctx, params["PolicyArn"])
        if "document" in row:  # bundled: only the default version is known
            versions = [_version(conn, row, row["default_version"])]
        else:
            versions = iam_store.list_policy_versions(conn, row["arn"])
    versions.sort(key=lambda v: -int(v["version_id"][1:]))  # newest first, as AWS lists them
    page, more = paginate(versions, params)
    return {"Versions": [shapes.policy_version(v, row["default_version"], with_document=False) for v in page], **more}


def delete_policy_version(ctx: RequestContext, params: dict[str, Any]) -> None:
    arn, version_id = params["PolicyArn"], params["VersionId"]
    with ctx.state.db.begin() as conn:
        row = entities.customer_policy(conn, ctx, arn, "Cannot delete policy versions for policies outside your own account.")
        if version_id == row["default_version"]:
            raise DeleteConflict("Cannot delete the default version of a policy.")
        if not iam_store.delete_policy_version(conn, arn, version_id):
            raise _no_version(arn, version_id)


def set_default_policy_version(ctx: RequestContext, params: dict[str, Any]) -> None:
    arn, version_id = params["PolicyArn"], params["VersionId"]
    with ctx.state.db.begin() as conn:
        entities.customer_policy(conn, ctx, arn, "Cannot update policies outside your own account.")
        if iam_store.get_policy_version(conn, arn, version_id) is None:
            raise _no_version(arn, version_id)
        iam_store.update_managed_policy(conn, arn, default_version=version_id, updated=ctx.state.clock.time())


def _version(conn: Any, row: dict[str, Any], version_id: str) -> dict[str, Any]:
    if "document" in row:
        if version_id != row["default_version"]:
            raise _no_version(row["arn"], version_id)
        return {"policy_arn": row["arn"], "version_id": version_id, "document": row["document"], "created": row["updated"]}
    version = iam_store.get_policy_version(conn, row["arn"], version_id)
    if version is None:
        raise _no_version(row["arn"], version_id)
    return dict(version)


def _no_version(arn: str, version_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
