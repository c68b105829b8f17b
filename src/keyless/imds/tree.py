"""The metadata tree: paths under /latest/ (or a dated version) and what they answer.

Directories answer a listing, one name per line, sub-trees ending in '/', with no trailing
newline [retr]; a leaf asked for with a trailing slash answers its value (botocore asks for
`placement/availability-zone/`). The static part is built once per instance view; the iam/
subtree is asked of the CredentialSource on every request, so association changes show at once.
"""

from __future__ import annotations

import base64
from typing import Any, Callable, Union

from keyless.imds.model import Answer, CredentialSource, IamState, InstanceView, imds_json, iso

Node = Union[str, bytes, dict[str, Any], Callable[[], Answer]]

VERSIONS = ("1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01",
            "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12", "2014-02-25", "2014-11-05",
            "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02", "2018-03-28", "2018-08-17", "2018-09-24",
            "2019-10-01", "2020-10-27", "2021-01-03", "2021-03-23", "2021-07-15", "2022-09-24", "latest")

_ERROR_PAGE = """<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>{status} - {reason}</title>
 </head>
 <body>
  <h1>{status} - {reason}</h1>
 </body>
</html>
"""
REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}


def error(status: int) -> Answer:
    """IMDS's tiny XHTML error page [aemm]."""
    body = _ERROR_PAGE.format(status=status, reason=REASONS.get(status, "Error")).encode()
    return Answer(status, body, "text/html")


NOT_FOUND = error(404)


def build_static(view: InstanceView, identity: Callable[[InstanceView], dict[str, str]] | None = None) -> dict[str, Any]:
    """The per-view part of the tree: everything but iam/."""
    meta: dict[str, Any] = {
        "ami-id": view.image_id,
        "ami-launch-index": str(view.ami_launch_index),
        "ami-manifest-path": "(unknown)",
        "block-device-mapping": {"ami": "/dev/xvda", "root": "/dev/xvda"},
        "hostname": view.hostname,
        "instance-action": "none",
        "instance-id": view.instance_id,
        "instance-life-cycle": "on-demand",
        "instance-type": view.instance_type,
        "local-hostname": view.hostname,
        "local-ipv4": view.private_ip,
        "mac": view.mac,
        "network": {"interfaces": {"macs": {view.mac: _interface(view)}}},
        "placement": {"availability-zone": view.availability_zone,
                      "availability-zone-id": view.availability_zone_id, "region": view.region},
        "profile": "default-hvm",
        "reservation-id": view.reservation_id,
        "security-groups": "default",
        "services": {"domain": "amazonaws.com", "partition": "aws"},
    }
    if view.options.instance_metadata_tags == "enabled":
        meta["tags"] = {"instance": {key: value for key, value in view.tags}}
    dynamic: dict[str, Any] = {}
    if identity is not None:
        dynamic["instance-identity"] = _identity_leaves(view, identity)
    root: dict[str, Any] = {"dynamic": dynamic, "meta-data": meta}
    if view.user_data is not None:
        root["user-data"] = view.user_data
    return root


def _identity_leaves(view: InstanceView, identity: Callable[[InstanceView], dict[str, str]]) -> dict[str, Any]:
    """Signed on first request, not per view: a view changes with every association or option."""
    signed: dict[str, str] = {}

    def leaf(name: str) -> Callable[[], Answer]:
        def answer() -> Answer:
            if not signed:
                signed.update(identity(view))
            return Answer(200, signed[name].encode())
        return answer

    return {name: leaf(name) for name in ("document", "pkcs7", "rsa2048", "signature")}


def _interface(view: InstanceView) -> dict[str, Any]:
    return {
        "device-number": "0", "interface-id": "eni-" + view.instance_id[2:], "local-hostname": view.hostname,
        "local-ipv4s": view.private_ip, "mac": view.mac, "owner-id": view.account,
        "security-group-ids": "sg-" + view.vpc_id[4:], "security-groups": "default", "subnet-id": view.subnet_id,
        "subnet-ipv4-cidr-block": "172.31.0.0/16", "vpc-id": view.vpc_id,
        "vpc-ipv4-cidr-block": "172.31.0.0/16", "vpc-ipv4-cidr-blocks": "172.31.0.0/16",
    }


def resolve(static: dict[str, Any], view: InstanceView, source: CredentialSource, path: str, delivery: str) -> Answer:
    """Answer a GET for `path` (already stripped of its query)."""
    segments = [s for s in path.split("/") if s]
    if not segments:
        return Answer(200, "\n".join(VERSIONS).encode())
    if segments[0] not in VERSIONS:
        return NOT_FOUND
    rest = segments[1:]
    if not rest:  # /latest/ lists its three trees without slashes
        return Answer(200, "\n".join(sorted(static)).encode())
    if rest[:2] == ["meta-data", "iam"]:
        return _iam(view, source, rest[2:], delivery)
    node: Node = static
    for segment in rest:
        if not isinstance(node, dict):
            return NOT_FOUND
        node = node.get(segment)  # type: ignore[assignment]
        if node is None:
            return NOT_FOUND
    return _render(node, iam_listed=rest == ["meta-data"] and source.iam_state(view) is not None)


def _render(node: Node, *, iam_listed: bool = False) -> Answer:
    if isinstance(node, dict):
        names = [f"{name}/" if isinstance(child, dict) else name for name, child in node.items()]
        if iam_listed:
            names.append("iam/")
        if not names:
            return NOT_FOUND
        return Answer(200, "\n".join(sorted(names)).encode())
    if callable(node):
        return node()
    return Answer(200, node if isinstance(node, bytes) else node.encode())


def _iam(view: InstanceView, source: CredentialSource, rest: list[str], delivery: str) -> Answer:
    state = source.iam_state(view)
    if state is None:  # no profile associated: the iam/ subtree is absent [cat]
        return NOT_FOUND
    roles: dict[str, Any] = {}
    if state.role_name is not None:
        role_name = state.role_name
        roles[role_name] = lambda: Answer(200, imds_json(source.credentials(view, delivery)))
    subtree: dict[str, Any] = {"info": lambda: Answer(200, imds_json(info_document(state))),
                               "security-credentials": roles}
    node: Node = subtree
    for segment in rest:
        if not isinstance(node, dict):
            return NOT_FOUND
        node = node.get(segment)  # type: ignore[assignment]
        if node is None:
            return NOT_FOUND
    return _render(node)


def info_document(state: IamState) -> dict[str, Any]:
    if state.code == "Success":
        return {"Code": "Success", "LastUpdated": iso(state.last_updated),
                "InstanceProfileArn": state.profile_arn, "InstanceProfileId": state.profile_id}
    if state.code == "InstanceProfileNotFound":
        message = f"Instance Profile with Arn {state.profile_arn} could not be found."
    else:
        message = "Instance Profile does not contain a role. Please add a role to the instance profile."
    return {"Code": state.code, "Message": message, "LastUpdated": iso(state.last_updated)}


def credentials_document(access_key_id: str, secret_access_key: str, token: str, issued_at: float,
                         expiration: float) -> dict[str, Any]:
    """security-credentials/<role>: keys in AWS's order [roles]."""
    return {"Code": "Success", "LastUpdated": iso(issued_at), "Type": "AWS-HMAC", "AccessKeyId": access_key_id,
            "SecretAccessKey": secret_access_key, "Token": token, "Expiration": iso(expiration)}


def assume_role_unauthorized(role_name: str, now: float) -> dict[str, Any]:
    """What security-credentials/<role> answers when the trust policy does not let EC2 in [ts]."""
    return {"Code": "AssumeRoleUnauthorizedAccess",
            "Message": f"EC2 cannot assume the role {role_name}.  Please see documentation at "
                       "https://docs.aws.amazon.com/IAM/latest/UserGuide/RolesTroubleshooting.html.",
            "LastUpdated": iso(now)}


def b64_lines(raw: bytes, width: int = 64) -> str:
    """Base64 broken into lines, the way IMDS serves signatures (no PEM armour)."""
    text = base64.b64encode(raw).decode("ascii")
    return "\n".join(text[i:i + width] for i in range(0, len(text), width))
