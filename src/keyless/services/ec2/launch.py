"""RunInstances' input, validated in EC2's words, and the rows a launch writes.

Launched instances go straight to `running` (the response still says `pending`, code 0, as
AWS's does): there is no boot to wait for, and the metadata service starts before the response.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from keyless import ids
from keyless.services.base import RequestContext
from keyless.services.ec2 import network
from keyless.services.ec2.errors import (
    InstanceLimitExceeded,
    InvalidAMIIDMalformed,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from keyless.services.ec2.profiles import ResolvedProfile

MAX_INSTANCES_PER_CALL = 100
USER_DATA_LIMIT = 16 * 1024
DEFAULT_INSTANCE_TYPE = "m1.small"  # what EC2 launches when InstanceType is omitted
DEFAULT_METADATA_OPTIONS = {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled",
                            "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled"}
_ENUMS = {"HttpTokens": ("optional", "required"), "HttpEndpoint": ("enabled", "disabled"),
          "HttpProtocolIpv6": ("enabled", "disabled"), "InstanceMetadataTags": ("enabled", "disabled")}
_AMI_ID = re.compile(r"ami-([0-9a-f]{8}|[0-9a-f]{17})")


@lru_cache(maxsize=1)
def instance_types() -> frozenset[str]:
    import botocore.session

    model = botocore.session.get_session().get_service_model("ec2")
    return frozenset(model.shape_for("InstanceType").enum)


@dataclass(frozen=True)
class LaunchRequest:
    image_id: str
    instance_type: str
    count: int
    key_name: str | None
    user_data: str | None  # base64, as sent
    tags: list[dict[str, str]]
    metadata_options: dict[str, Any]
    availability_zone: str
    subnet_id: str | None
    private_ip: str | None
    client_token: str | None


def parse_launch(ctx: RequestContext, params: dict[str, Any]) -> LaunchRequest:
    image_id = params.get("ImageId")
    if not image_id:
        raise MissingParameter("The request must contain the parameter ImageId")
    if not _AMI_ID.fullmatch(image_id):
        raise InvalidAMIIDMalformed(f'Invalid id: "{image_id}" (expecting "ami-...")')
    instance_type = params.get("InstanceType") or DEFAULT_INSTANCE_TYPE
    if instance_type not in instance_types():
        raise InvalidParameterValue(f"Invalid value '{instance_type}' for InstanceType.")
    count = _count(params.get("MinCount"), params.get("MaxCount"))
    private_ip = params.get("PrivateIpAddress")
    if private_ip and count > 1:
        raise InvalidParameterCombination("Cannot specify an IP address when launching more than one instance.")
    return LaunchRequest(
        image_id=image_id, instance_type=instance_type, count=count, key_name=params.get("KeyName"),
        user_data=_user_data(params.get("UserData")), tags=_tags(params.get("TagSpecifications")),
        metadata_options=merge_metadata_options(DEFAULT_METADATA_OPTIONS, params.get("MetadataOptions") or {}),
        availability_zone=network.availability_zone(ctx.region, params.get("Placement")),
        subnet_id=params.get("SubnetId"), private_ip=private_ip, client_token=params.get("ClientToken"),
    )


def _count(min_count: int | None, max_count: int | None) -> int:
    if min_count is None:
        raise MissingParameter("The request must contain the parameter MinCount")
    if max_count is None:
        raise MissingParameter("The request must contain the parameter MaxCount")
    if min_count < 1 or max_count < 1:
        raise InvalidParameterValue("Instance count must be a positive number")
    if min_count > max_count:
        raise InvalidParameterValue("MinCount cannot be greater than MaxCount")
    if min_count > MAX_INSTANCES_PER_CALL:
        raise InstanceLimitExceeded(f"You have requested more instances ({min_count}) than your current instance "
                                    f"limit of {MAX_INSTANCES_PER_CALL} allows for the specified instance type.")
    return min(max_count, MAX_INSTANCES_PER_CALL)


def _user_data(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameterValue("Invalid BASE64 encoding of user data.") from None
    if len(raw) > USER_DATA_LIMIT:
        raise InvalidParameterValue(f"User data is limited to {USER_DATA_LIMIT} bytes")
    return value


def _tags(specs: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    tags: list[dict[str, str]] = []
    for spec in specs or ():
        resource_type = spec.get("ResourceType")
        if resource_type not in ("instance", "volume", "network-interface", "spot-instances-request"):
            raise InvalidParameterValue(f"'{resource_type}' is not a valid taggable resource type for this operation.")
        if resource_type == "instance":
            tags.extend({"Key": t.get("Key", ""), "Value": t.get("Value", "")} for t in spec.get("Tags") or ())
    for tag in tags:
        if tag["Key"].lower().startswith("aws:"):
            raise InvalidParameterValue("Tag keys starting with 'aws:' are reserved for internal use")
        if not tag["Key"] or len(tag["Key"]) > 128 or len(tag["Value"]) > 256:
            raise InvalidParameterValue(f"Tag key or value has an invalid length: {tag['Key'][:128]}")
    if len(tags) > 50:
        raise InvalidParameterValue("Number of tags exceeds the limit of 50")
    return tags


def merge_metadata_options(current: dict[str, Any], requested: dict[str, Any]) -> dict[str, Any]:
    """Requested fields over current ones, each validated (omitted fields keep their value)."""
    merged = dict(current)
    for name, allowed in _ENUMS.items():
        value = requested.get(name)
        if value is None:
            continue
        if value not in allowed:
            raise InvalidParameterValue(f"The {name[0].lower() + name[1:]} parameter value '{value}' is invalid.")
        merged[name] = value
    hops = requested.get("HttpPutResponseHopLimit")
    if hops is not None:
        if not 1 <= int(hops) <= 64:
            raise InvalidParameterValue(f"The httpPutResponseHopLimit parameter value '{hops}' is invalid. "
                                        "Valid values are integers from 1 to 64.")
        merged["HttpPutResponseHopLimit"] = int(hops)
    return merged


def instance_rows(ctx: RequestContext, launch: LaunchRequest, *, ips: list[str], ports: list[int],
                  reservation_id: str, now: float) -> list[dict[str, Any]]:
    vpc_id = network.default_vpc_id(ctx.account, ctx.region)
    subnet_id = launch.subnet_id or network.default_subnet_id(ctx.account, launch.availability_zone)
    return [
        {
            "id": ids.hex_id("i-"), "account": ctx.account, "region": ctx.region, "reservation_id": reservation_id,
            "image_id": launch.image_id, "instance_type": launch.instance_type, "key_name": launch.key_name,
            "state": "running", "state_reason": "", "launch_time": now, "state_changed": now, "created": now,
            "availability_zone": launch.availability_zone, "vpc_id": vpc_id, "subnet_id": subnet_id,
            "private_ip": ip, "mac": network.mac_address(), "ami_launch_index": index,
            "user_data": launch.user_data, "client_token": launch.client_token, "tags": json.dumps(launch.tags),
            "metadata_options": json.dumps(launch.metadata_options), "imds_port": port,
            "launched_by": ctx.caller.arn,
        }
        for index, (ip, port) in enumerate(zip(ips, ports))
    ]


def association_row(instance_id: str, profile: ResolvedProfile, now: float) -> dict[str, Any]:
    return {"association_id": ids.hex_id("iip-assoc-"), "instance_id": instance_id, "profile_arn": profile.arn,
            "profile_id": profile.id, "state": "associated", "created": now, "updated": now}
