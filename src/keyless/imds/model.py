"""What one instance's metadata service knows: an immutable view of the instance, replaced as a
whole whenever EC2 changes it (so a request sees either the old view or the new one), and the
small answers the metadata tree gives back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

IMDS_V1 = "1.0"  # ec2:RoleDelivery for credentials fetched without a session token
IMDS_V2 = "2.0"


@dataclass(frozen=True, slots=True)
class MetadataOptions:
    """ModifyInstanceMetadataOptions' settings, as the listener applies them."""

    http_tokens: str = "optional"  # optional | required
    http_endpoint: str = "enabled"  # enabled | disabled
    hop_limit: int = 1  # stored and echoed; loopback has no hops to count
    http_protocol_ipv6: str = "disabled"
    instance_metadata_tags: str = "disabled"  # enabled | disabled

    @classmethod
    def from_dict(cls, options: dict[str, Any]) -> MetadataOptions:
        return cls(
            http_tokens=options.get("HttpTokens", "optional"),
            http_endpoint=options.get("HttpEndpoint", "enabled"),
            hop_limit=int(options.get("HttpPutResponseHopLimit", 1)),
            http_protocol_ipv6=options.get("HttpProtocolIpv6", "disabled"),
            instance_metadata_tags=options.get("InstanceMetadataTags", "disabled"),
        )


@dataclass(frozen=True, slots=True)
class ProfileRef:
    """The instance profile of the instance's current association."""

    association_id: str
    arn: str
    id: str
    associated_at: float


@dataclass(frozen=True, slots=True)
class InstanceView:
    instance_id: str
    account: str
    region: str
    availability_zone: str
    instance_type: str
    image_id: str
    reservation_id: str
    ami_launch_index: int
    private_ip: str
    mac: str
    vpc_id: str
    subnet_id: str
    launch_time: float
    boot: str  # changes on every start: tokens of an earlier boot are invalid
    options: MetadataOptions = field(default_factory=MetadataOptions)
    tags: tuple[tuple[str, str], ...] = ()
    user_data: bytes | None = None
    profile: ProfileRef | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:ec2:{self.region}:{self.account}:instance/{self.instance_id}"

    @property
    def hostname(self) -> str:
        """ip-172-31-5-9.ec2.internal in us-east-1, ip-….REGION.compute.internal elsewhere."""
        name = "ip-" + self.private_ip.replace(".", "-")
        return f"{name}.ec2.internal" if self.region == "us-east-1" else f"{name}.{self.region}.compute.internal"

    @property
    def availability_zone_id(self) -> str:
        """use1-az1 style: area, abbreviated direction and number of the region, then the zone's
        position (AWS shuffles letters to ids per account; keyless keeps them in order)."""
        area, *directions, number = self.region.split("-")
        short = "".join(_DIRECTIONS.get(d, d[:1]) for d in directions)
        letter = self.availability_zone[len(self.region):] or "a"
        return f"{area}{short}{number}-az{ord(letter[0]) - ord('a') + 1}"


_DIRECTIONS = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
               "northeast": "ne", "southeast": "se", "northwest": "nw", "southwest": "sw"}


@dataclass(frozen=True, slots=True)
class IamState:
    """What the iam/ subtree shows: a usable role, or the failure AWS reports in its place.

    code is "Success", "InstanceProfileNotFound" or "NoRole"; a trust failure only shows when
    credentials are asked for (AssumeRoleUnauthorizedAccess), so it is reported by `credentials`.
    """

    code: str
    profile_arn: str
    profile_id: str
    role_name: str | None = None
    last_updated: float = 0.0


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


class CredentialSource(Protocol):
    """Where the tree gets the iam/ subtree's contents (keyless.imds.roles backs it with the store)."""

    def iam_state(self, view: InstanceView) -> IamState | None:
        """None when no profile is associated: the iam/ subtree is absent."""

    def credentials(self, view: InstanceView, delivery: str) -> dict[str, Any]:
        """The security-credentials/<role> document (Success, or an error Code + Message)."""


def iso(epoch: float) -> str:
    """IMDS timestamps: exactly YYYY-MM-DDTHH:MM:SSZ (botocore's static-stability check needs it)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def imds_json(document: dict[str, Any]) -> bytes:
    """IMDS pretty-prints its JSON documents with `"Key" : value`, two-space indented.

    Its documents are flat, so they are written member by member: json.dumps with `indent` runs
    in pure Python and was most of the cost of a credentials request."""
    if any(isinstance(v, (dict, list)) for v in document.values()):
        return json.dumps(document, indent=2, separators=(",", " : ")).encode()
    members = ",\n".join(f"  {json.dumps(k)} : {json.dumps(v)}" for k, v in document.items())
    return ("{\n" + members + "\n}").encode() if members else b"{}"
