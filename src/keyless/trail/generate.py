"""Least-privilege policy generation from the audit trail (`keyless policy generate`).

    doc = generate_policy(records)      # CloudTrail records of one role, allowed and would-be denied

Unlike IAM Access Analyzer, which reads CloudTrail and so sees neither S3 data events nor
iam:PassRole, keyless records every authorization decision it took for a request (the "keyless"
member of its records): exact actions and resource ARNs. On top of those it adds what AWS
requires without a decision on record:

- s3:ListBucket on the bucket for a GetObject/HeadObject of a missing key: S3 answers 404 only to
  callers that may list the bucket, 403 to the rest, so the workload would otherwise change;
- iam:PassRole for EC2 launches and associations that named a profile (keyless records that
  check; the condition iam:PassedToService pins it to the calling service).

Resources are generalised only as far as the observations need:
- S3 objects, per action and bucket: keys under the same top-level folder seen more than once
  collapse to their longest common folder (`bucket/out/run/*`); a key seen alone stays exact;
- EC2 instances (and other ids EC2 mints per launch) become `instance/*`: a re-run gets new ids;
- everything else stays exact, and a resource another one covers (`*`) is dropped.
Statements group the resources that share the same actions (and condition): one statement per
resource group, everything sorted, so the same trail always gives the same document.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from keyless.policy import PolicyKind, parse_policy

VERSION = "2012-10-17"
# A missing key: S3's code for GetObject, and what a HEAD (no body) is recorded with.
_MISSING_KEY_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
_KEY_READS = frozenset({"GetObject", "HeadObject"})
# EC2 resource types whose ids each launch mints anew.
_EC2_MINTED = re.compile(r"^(arn:aws[\w-]*:ec2:[^:]*:[^:]*:(?:instance|volume|network-interface))/[^*]+$")


class NothingObserved(ValueError):
    """No decisions in the window: there is nothing to grant."""


@dataclass(frozen=True, order=True)
class Grant:
    """One observed need: `action` on `resource` (under `condition`, canonical JSON or "")."""

    action: str
    resource: str
    condition: str = ""


def generate_policy(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A minimal identity policy that allows everything the records show the principal doing."""
    grants = observed_grants(records)
    if not grants:
        raise NothingObserved("no requests with authorization decisions were recorded for this principal")
    doc = {"Version": VERSION, "Statement": _statements(_generalise(grants))}
    parse_policy(policy_json(doc), PolicyKind.IDENTITY)  # raises PolicyError if we ever produce an invalid one
    return doc


def policy_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=4) + "\n"


# --- what the records show -----------------------------------------------------------------------


def observed_grants(records: Iterable[Mapping[str, Any]]) -> set[Grant]:
    grants: set[Grant] = set()
    for rec in records:
        decisions = (rec.get("keyless") or {}).get("decisions") or []
        for d in decisions:
            grants.add(_grant(rec, d["action"], d["resource"]))
        grants.update(_implicit(rec, decisions))
    return grants


def _grant(rec: Mapping[str, Any], action: str, resource: str) -> Grant:
    if action.lower() == "iam:passrole":
        # keyless asks PassRole with iam:PassedToService = the service being called.
        service = str(rec.get("eventSource") or "")
        return Grant(action, resource, _canonical({"StringEquals": {"iam:PassedToService": service}}))
    return Grant(action, resource)


def _implicit(rec: Mapping[str, Any], decisions: list[Mapping[str, Any]]) -> list[Grant]:
    """s3:ListBucket for reads of a missing key (recorded as 404, or as 403 with GetObject allowed)."""
    if rec.get("eventSource") != "s3.amazonaws.com" or rec.get("eventName") not in _KEY_READS:
        return []
    code = rec.get("errorCode")
    object_allowed = any(d["action"] == "s3:GetObject" and d["result"] == "allowed" for d in decisions)
    if code not in _MISSING_KEY_CODES and not (code == "AccessDenied" and object_allowed):
        return []
    bucket = _bucket_of(rec, decisions)
    return [Grant("s3:ListBucket", f"arn:aws:s3:::{bucket}")] if bucket else []


def _bucket_of(rec: Mapping[str, Any], decisions: list[Mapping[str, Any]]) -> str | None:
    for d in decisions:
        if d["resource"].startswith("arn:aws:s3:::"):
            return str(d["resource"][len("arn:aws:s3:::"):].split("/", 1)[0])
    params = rec.get("requestParameters") or {}
    return params.get("bucketName") or params.get("bucket") or None


def _canonical(condition: Mapping[str, Any]) -> str:
    return json.dumps(condition, sort_keys=True, separators=(",", ":"))


# --- generalising resources ------------------------------------------------------------------------


def _generalise(grants: set[Grant]) -> set[Grant]:
    s3_keys: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # (action, condition, bucket) -> keys
    out: set[Grant] = set()
    for g in grants:
        bucket, sep, key = g.resource.removeprefix("arn:aws:s3:::").partition("/")
        if g.resource.startswith("arn:aws:s3:::") and sep:
            s3_keys[(g.action, g.condition, bucket)].add(key)
            continue
        minted = _EC2_MINTED.match(g.resource)
        out.add(Grant(g.action, f"{minted.group(1)}/*", g.condition) if minted else g)
    for (action, condition, bucket), keys in s3_keys.items():
        for pattern in key_patterns(keys):
            out.add(Grant(action, f"arn:aws:s3:::{bucket}/{pattern}", condition))
    return _drop_covered(out)


def key_patterns(keys: Iterable[str]) -> list[str]:
    """Object keys -> the fewest patterns that need no more than the keys' folders."""
    folders: dict[str | None, set[str]] = defaultdict(set)
    for key in keys:
        folders[key.split("/", 1)[0] if "/" in key else None].add(key)
    patterns: set[str] = set()
    for top, members in folders.items():
        if top is None or len(members) == 1:
            patterns.update(members)  # root-level keys, and a folder seen once, stay exact
        else:
            prefix = _common_prefix(sorted(members))
            patterns.add(prefix[: prefix.rfind("/") + 1] + "*")
    return sorted(patterns)


def _common_prefix(items: list[str]) -> str:
    first, last = items[0], items[-1]  # sorted: the first and last differ the earliest
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _drop_covered(grants: set[Grant]) -> set[Grant]:
    """Remove a grant when another grant of the same action and condition already covers it."""
    by_action: dict[tuple[str, str], set[str]] = defaultdict(set)
    for g in grants:
        by_action[(g.action, g.condition)].add(g.resource)
    kept = set()
    for (action, condition), resources in by_action.items():
        for resource in resources:
            if not any(other != resource and _covers(other, resource) for other in resources):
                kept.add(Grant(action, resource, condition))
    return kept


def _covers(pattern: str, resource: str) -> bool:
    if pattern == "*":
        return True
    if not pattern.endswith("*") or "*" in pattern[:-1] or "?" in pattern:
        return False  # generated patterns are exact ARNs, `*`, or `prefix*`
    return resource.startswith(pattern[:-1]) and resource != pattern


# --- statements --------------------------------------------------------------------------------------


def _statements(grants: set[Grant]) -> list[dict[str, Any]]:
    actions_of: dict[tuple[str, str], set[str]] = defaultdict(set)  # (resource, condition) -> actions
    for g in grants:
        actions_of[(g.resource, g.condition)].add(g.action)
    groups: dict[tuple[tuple[str, ...], str], list[str]] = defaultdict(list)
    for (resource, condition), actions in actions_of.items():
        groups[(tuple(sorted(actions)), condition)].append(resource)
    statements = []
    for (actions, condition), resources in sorted(groups.items(), key=lambda kv: (kv[0][0], sorted(kv[1]), kv[0][1])):
        statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": sorted(resources)}
        if condition:
            statement["Condition"] = json.loads(condition)
        statements.append(statement)
    return statements
