"""The ARN value type: arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Arn:
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
            raise ValueError(f"not an ARN: {text!r}")
        return cls(parts[1], parts[2], parts[3], parts[4], parts[5])

    @property
    def resource_type(self) -> str:
        """'role' for role/path/name, 'instance' for instance/i-..., '' for S3 buckets."""
        for sep in ("/", ":"):
            if sep in self.resource:
                return self.resource.split(sep, 1)[0]
        return ""

    @property
    def name(self) -> str:
        """The last path element: the name of a user, role, profile or policy."""
        return self.resource.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def iam_arn(account: str, kind: str, name: str, path: str = "/") -> str:
    """arn:aws:iam::ACCOUNT:role/PATH/NAME (path is '/' or '/a/b/')."""
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


def assumed_role_arn(account: str, role_name: str, session_name: str) -> str:
    """Session ARNs omit the role's path."""
    return f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"
