"""Rows -> dicts shaped like EC2's output shapes (Instance, InstanceStateChange,
IamInstanceProfileAssociation, InstanceMetadataOptionsResponse). Fields keyless has nothing real
for carry the values a default-VPC Linux instance shows on AWS.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from keyless.store import ec2 as ec2_store

STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

Row = Mapping[str, Any]


def state(name: str) -> dict[str, Any]:
    return {"Code": STATE_CODES[name], "Name": name}


def state_change(instance_id: str, previous: str, current: str) -> dict[str, Any]:
    return {"InstanceId": instance_id, "CurrentState": state(current), "PreviousState": state(previous)}


def timestamp(epoch: float) -> datetime:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc)


def hostname(row: Row, region: str) -> str:
    name = "ip-" + row["private_ip"].replace(".", "-")
    return f"{name}.ec2.internal" if region == "us-east-1" else f"{name}.{region}.compute.internal"


def metadata_options(row: Row, *, applied: bool = True) -> dict[str, Any]:
    options = ec2_store.metadata_options(row)
    return {"State": "applied" if applied else "pending", **options}


def instance(row: Row, association: Row | None, *, launching: bool = False) -> dict[str, Any]:
    """The Instance shape; `launching` shows the pending state RunInstances answers with."""
    region = row["region"]
    dns = hostname(row, region) if row["state"] != "terminated" else ""
    group = {"GroupId": "sg-" + row["vpc_id"][4:], "GroupName": "default"}
    shape: dict[str, Any] = {
        "InstanceId": row["id"],
        "ImageId": row["image_id"],
        "State": state("pending" if launching else row["state"]),
        "PrivateDnsName": dns,
        "PublicDnsName": "",
        "StateTransitionReason": row["state_reason"],
        "AmiLaunchIndex": row["ami_launch_index"],
        "ProductCodes": [],
        "InstanceType": row["instance_type"],
        "LaunchTime": timestamp(row["launch_time"]),
        "Placement": {"AvailabilityZone": row["availability_zone"], "GroupName": "", "Tenancy": "default"},
        "Monitoring": {"State": "disabled"},
        "Architecture": "x86_64",
        "RootDeviceType": "ebs",
        "RootDeviceName": "/dev/xvda",
        "BlockDeviceMappings": [],
        "VirtualizationType": "hvm",
        "Hypervisor": "xen",
        "EbsOptimized": False,
        "EnaSupport": True,
        "SecurityGroups": [group],
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "MetadataOptions": metadata_options(row, applied=not launching),
        "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 2},
        "HibernationOptions": {"Configured": False},
        "EnclaveOptions": {"Enabled": False},
        "BootMode": "uefi-preferred",
        "CurrentInstanceBootMode": "legacy-bios",
        "MaintenanceOptions": {"AutoRecovery": "default"},
        "PrivateDnsNameOptions": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                  "EnableResourceNameDnsAAAARecord": False},
    }
    if row["key_name"]:
        shape["KeyName"] = row["key_name"]
    if row["client_token"]:
        shape["ClientToken"] = row["client_token"]
    if row["state"] != "terminated":
        shape.update({"SubnetId": row["subnet_id"], "VpcId": row["vpc_id"], "PrivateIpAddress": row["private_ip"],
                      "SourceDestCheck": True, "NetworkInterfaces": [_interface(row, dns, group)]})
    if association is not None:
        shape["IamInstanceProfile"] = {"Arn": association["profile_arn"], "Id": association["profile_id"]}
    tags = ec2_store.tags(row)
    if tags:
        shape["Tags"] = tags
    if row["state"] in ("stopped", "terminated", "stopping", "shutting-down"):
        shape["StateReason"] = {"Code": "Client.UserInitiatedShutdown",
                                "Message": "Client.UserInitiatedShutdown: User initiated shutdown"}
    return shape


def _interface(row: Row, dns: str, group: dict[str, str]) -> dict[str, Any]:
    eni = "eni-" + row["id"][2:]
    return {
        "Attachment": {"AttachTime": timestamp(row["created"]), "AttachmentId": "eni-attach-" + row["id"][2:],
                       "DeleteOnTermination": True, "DeviceIndex": 0, "Status": "attached", "NetworkCardIndex": 0},
        "Description": "", "Groups": [group], "Ipv6Addresses": [], "MacAddress": row["mac"],
        "NetworkInterfaceId": eni, "OwnerId": row["account"], "PrivateDnsName": dns,
        "PrivateIpAddress": row["private_ip"],
        "PrivateIpAddresses": [{"Primary": True, "PrivateDnsName": dns, "PrivateIpAddress": row["private_ip"]}],
        "SourceDestCheck": True, "Status": "in-use", "SubnetId": row["subnet_id"], "VpcId": row["vpc_id"],
        "InterfaceType": "interface",
    }


def association(row: Row, *, state_name: str | None = None) -> dict[str, Any]:
    return {
        "AssociationId": row["association_id"],
        "InstanceId": row["instance_id"],
        "IamInstanceProfile": {"Arn": row["profile_arn"], "Id": row["profile_id"]},
        "State": state_name or row["state"],
        "Timestamp": timestamp(row["created"]),
    }


def instance_status(row: Row) -> dict[str, Any]:
    running = row["state"] == "running"
    summary = ({"Status": "ok", "Details": [{"Name": "reachability", "Status": "passed"}]} if running
               else {"Status": "not-applicable"})
    return {
        "InstanceId": row["id"],
        "AvailabilityZone": row["availability_zone"],
        "InstanceState": state(row["state"]),
        "InstanceStatus": summary,
        "SystemStatus": summary,
        "Events": [],
    }
