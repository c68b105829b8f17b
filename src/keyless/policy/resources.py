"""Resource / NotResource: IAM's format checks, and matchers compiled once [res].

Matching is case-sensitive; `*` and `?` are wildcards that run across `:` and `/`; `${...}`
variables (Version 2012-10-17 only) are substituted per request and never act as wildcards. A
pattern whose variable has no value matches nothing [vars].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from keyless.policy.context import EvalContext
from keyless.policy.match import Matcher, cached_regex, compile_globs
from keyless.policy.variables import Template, parse_template

PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc", "*"})
IAM_RESOURCE_STARTS = (
    "user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/", "server-certificate/", "policy/",
    "sms-mfa/", "saml-provider/", "oidc-provider/", "report/", "access-report/",
)
_REGION_MESSAGES = {
    "iam": "IAM resource {resource} cannot contain region information.",
    "s3": "Resource {resource} can not contain region information.",
}


def resource_format_error(resource: str) -> str | None:
    """IAM's message for a Resource value that is not an ARN it accepts, or None."""
    if resource == "*":
        return None
    _, colon, rest = resource.partition(":")
    if not colon:
        return f'Resource {resource} must be in ARN format or "*".'
    partition, colon, rest = rest.partition(":")
    if partition not in PARTITIONS:
        return _partition_error(partition, rest)
    if not colon:
        return "Resource vendor must be fully qualified and cannot contain regexes."
    service, _, after_service = rest.partition(":")
    region, _, after_region = after_service.partition(":")
    resource_id = after_region.partition(":")[2]
    if service in _REGION_MESSAGES and region and not (service == "s3" and resource_id.startswith("accesspoint/")):
        return _REGION_MESSAGES[service].format(resource=resource)
    if service == "iam" and not (resource_id.startswith(IAM_RESOURCE_STARTS) or resource_id in ("*", "root")):
        return f'IAM resource path must either be "*", root, or start with {", ".join(IAM_RESOURCE_STARTS)}.'
    return None


def _partition_error(partition: str, rest: str) -> str:
    parts = rest.split(":")
    shown = [
        parts[0] if parts[0] or len(parts) > 1 else "*",
        parts[1] if len(parts) > 1 else "*",
        parts[2] if len(parts) > 2 else "*",
        ":".join(parts[3:]) if len(parts) > 3 else "*",
    ]
    return f'Partition "{partition}" is not valid for resource "arn:{partition}:{":".join(shown)}".'


def resource_legacy_ok(resource: str) -> bool:
    """IAM's older parser: an ARN with `::` must have all six parts, and a service."""
    if resource == "*":
        return True
    parts = resource.split(":")
    return (resource.count(":") >= 5 or "::" not in resource) and len(parts) > 2 and parts[2] != ""


@dataclass(frozen=True, slots=True)
class ResourceMatcher:
    static: Matcher
    templates: tuple[Template, ...]
    always: bool  # a bare "*": the hot path skips the call entirely

    def matches(self, resource: str, ctx: EvalContext) -> bool:
        if self.static(resource):
            return True
        for template in self.templates:
            source = template.regex(ctx.single)
            if source is not None and cached_regex(source).fullmatch(resource):
                return True
        return False


def compile_resources(patterns: Iterable[str], substitute: bool) -> ResourceMatcher:
    static: list[str] = []
    templates: list[Template] = []
    for pattern in patterns:
        template = parse_template(pattern) if substitute else None
        if template is None:
            static.append(pattern)
        else:
            templates.append(template)
    matcher = compile_globs(static)
    return ResourceMatcher(matcher, tuple(templates), always=matcher is _ALWAYS)


_ALWAYS: Callable[[str], bool] = compile_globs(["*"])
