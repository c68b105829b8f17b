"""AWS-managed policies, bundled with their real documents and ARNs (arn:aws:iam::aws:policy/...).

They are read-only and the same in every account, so they live in package data, not the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class AwsManagedPolicy:
    name: str
    arn: str
    path: str
    policy_id: str
    description: str
    default_version: str
    document: str  # JSON text
    created: str  # ISO 8601, as AWS reports
    updated: str


@lru_cache(maxsize=1)
def catalog() -> dict[str, AwsManagedPolicy]:
    raw = json.loads(resources.files("keyless.store.data").joinpath("aws_managed_policies.json").read_text())
    out = {}
    for p in raw:
        doc = p["document"] if isinstance(p["document"], str) else json.dumps(p["document"], indent=4)
        out[p["arn"]] = AwsManagedPolicy(
            name=p["name"], arn=p["arn"], path=p.get("path", "/"), policy_id=p["policy_id"],
            description=p.get("description", ""), default_version=p["default_version"], document=doc,
            created=p["created"], updated=p["updated"],
        )
    return out


def get(arn: str) -> AwsManagedPolicy | None:
    return catalog().get(arn)


def is_aws_managed(arn: str) -> bool:
    return arn.startswith("arn:aws:iam::aws:policy/")
