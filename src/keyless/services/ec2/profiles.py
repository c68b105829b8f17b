"""IamInstanceProfile {Arn | Name} -> the profile and its role, with EC2's errors for bad ones.

Used twice per call: by the access map (to ask for iam:PassRole on the role) and by the handler
(to store the association). Both read through the same IAM-generation cache, so the second
lookup costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keyless.services.ec2.errors import InvalidParameterValue, MissingParameter
from keyless.store import iam as iam_store
from keyless.store.db import Database


@dataclass(frozen=True)
class ResolvedProfile:
    arn: str
    id: str
    name: str
    role_arn: str | None
    role_name: str | None


class ProfileLookup:
    """Profiles by name or ARN, cached until the next IAM write."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._generation = -1
        self._cache: dict[tuple[str, str, str], ResolvedProfile | None] = {}

    def find(self, account: str, spec: dict[str, Any]) -> ResolvedProfile | None:
        """None when no such profile exists (callers decide which error that is)."""
        if self._generation != self._db.generation or len(self._cache) > 10_000:
            self._cache, self._generation = {}, self._db.generation
        key = (account, "arn", spec["Arn"]) if spec.get("Arn") else (account, "name", str(spec.get("Name", "")).lower())
        if key not in self._cache:
            self._cache[key] = self._load(account, spec)
        return self._cache[key]

    def _load(self, account: str, spec: dict[str, Any]) -> ResolvedProfile | None:
        with self._db.read() as conn:
            if spec.get("Arn"):
                row = iam_store.get_instance_profile_by_arn(conn, spec["Arn"])
            else:
                row = iam_store.get_instance_profile(conn, account, str(spec.get("Name", "")))
            if row is None or row["account"] != account:
                return None
            role = iam_store.instance_profile_role(conn, row["id"])
        return ResolvedProfile(row["arn"], row["id"], row["name"], role["arn"] if role else None,
                               role["name"] if role else None)

    def require(self, account: str, spec: dict[str, Any] | None) -> ResolvedProfile:
        """The profile, or InvalidParameterValue in AWS's words (reference/sts-iam-ec2.md §3)."""
        if not spec or not (spec.get("Arn") or spec.get("Name")):
            raise MissingParameter("The request must contain the parameter iamInstanceProfile.arn or iamInstanceProfile.name")
        profile = self.find(account, spec)
        if profile is None:
            if spec.get("Arn"):
                raise InvalidParameterValue(
                    f"Value ({spec['Arn']}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN")
            raise InvalidParameterValue(
                f"Value ({spec['Name']}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
        if profile.role_arn is None:
            raise InvalidParameterValue(f'IAM Instance Profile "{profile.arn}" has no associated IAM Roles')
        return profile
