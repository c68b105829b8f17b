"""Store rows -> botocore output shapes (User, Role, Policy, InstanceProfile, ...).

AWS quirks kept here, with the reason:
- Policy documents in responses are URL-encoded (RFC 3986, as urllib.parse.quote); botocore's
  iam handler unquotes and JSON-decodes every policyDocumentType member.
- Timestamps are whole seconds: IAM prints CreateDate as 2015-02-06T18:39:46Z.
- List operations omit members Get returns (ListRoles has no Tags/PermissionsBoundary/RoleLastUsed,
  ListUsers no Tags, ListPolicies no Description/Tags), as the IAM API reference says.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import quote

Row = Mapping[str, Any]


def timestamp(epoch: float | str) -> datetime:
    if isinstance(epoch, str):  # bundled AWS-managed dates: 2015-02-06T18:39:46Z
        return datetime.strptime(epoch, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc)


def encode_document(document: str) -> str:
    return quote(document, safe="")


def tags(row: Row) -> list[dict[str, str]]:
    return list(json.loads(row.get("tags") or "[]"))


def _boundary(row: Row) -> dict[str, str] | None:
    if not row.get("boundary_arn"):
        return None
    return {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": row["boundary_arn"]}


def user(row: Row, *, detail: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": row["path"], "UserName": row["name"], "UserId": row["id"], "Arn": row["arn"],
        "CreateDate": timestamp(row["created"]),
    }
    if detail:
        boundary, user_tags = _boundary(row), tags(row)
        if boundary:
            out["PermissionsBoundary"] = boundary
        if user_tags:
            out["Tags"] = user_tags
    return out


def role(row: Row, view: str = "get") -> dict[str, Any]:
    """view: "get" (everything), "create", "list" or "profile" (the Role inside an InstanceProfile)."""
    out: dict[str, Any] = {
        "Path": row["path"], "RoleName": row["name"], "RoleId": row["id"], "Arn": row["arn"],
        "CreateDate": timestamp(row["created"]), "AssumeRolePolicyDocument": encode_document(row["trust_policy"]),
    }
    if view == "profile":
        return out
    if row.get("description") is not None:
        out["Description"] = row["description"]
    if view in ("get", "list"):
        out["MaxSessionDuration"] = row["max_session_duration"]
    if view in ("get", "create"):
        boundary, role_tags = _boundary(row), tags(row)
        if boundary:
            out["PermissionsBoundary"] = boundary
        if role_tags:
            out["Tags"] = role_tags
    if view == "get":
        last: dict[str, Any] = {}
        if row.get("last_used"):
            last = {"LastUsedDate": timestamp(row["last_used"]), "Region": row.get("last_used_region")}
        out["RoleLastUsed"] = {k: v for k, v in last.items() if v is not None}
    return out


def access_key_metadata(key: Row, user_name: str) -> dict[str, Any]:
    return {"UserName": user_name, "AccessKeyId": key["access_key_id"], "Status": key["status"],
            "CreateDate": timestamp(key["created"])}


def policy(row: Row, attachments: int, boundaries: int, view: str = "get") -> dict[str, Any]:
    """A managed policy (customer row or bundled AWS-managed entry); view "get", "create" or "list"."""
    out: dict[str, Any] = {
        "PolicyName": row["name"], "PolicyId": row["id"], "Arn": row["arn"], "Path": row["path"],
        "DefaultVersionId": row["default_version"], "AttachmentCount": attachments,
        "PermissionsBoundaryUsageCount": boundaries, "IsAttachable": True,
    }
    if view == "get" and row.get("description"):
        out["Description"] = row["description"]
    out["CreateDate"] = timestamp(row["created"])
    out["UpdateDate"] = timestamp(row["updated"])
    policy_tags = tags(row)
    if view != "list" and policy_tags:
        out["Tags"] = policy_tags
    return out


def policy_version(row: Row, default_version: str, *, with_document: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if with_document:
        out["Document"] = encode_document(row["document"])
    out.update({"VersionId": row["version_id"], "IsDefaultVersion": row["version_id"] == default_version,
                "CreateDate": timestamp(row["created"])})
    return out


def instance_profile(row: Row, role_row: Row | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": row["path"], "InstanceProfileName": row["name"], "InstanceProfileId": row["id"], "Arn": row["arn"],
        "CreateDate": timestamp(row["created"]), "Roles": [role(role_row, "profile")] if role_row else [],
    }
    profile_tags = tags(row)
    if profile_tags:
        out["Tags"] = profile_tags
    return out
