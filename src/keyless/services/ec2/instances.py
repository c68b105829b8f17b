"""Instance handlers: RunInstances, DescribeInstances, Start/Stop/Terminate/RebootInstances,
DescribeInstanceStatus.

States and their codes follow EC2: the responses show the transition (pending, stopping,
shutting-down) and the store keeps where it ends (running, stopped, terminated), so the next
Describe shows the settled state. Terminated instances stay visible for an hour, as on AWS.
Every state change starts or stops the instance's metadata service before the response.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from keyless import ids
from keyless.imds.ports import allocate_port
from keyless.services.base import RequestContext
from keyless.services.ec2 import filters, launch, network, shapes
from keyless.services.ec2.errors import (
    DryRunOperation,
    IncorrectInstanceState,
    InvalidInstanceIDMalformed,
    InvalidInstanceIDNotFound,
)
from keyless.services.ec2.profiles import ProfileLookup
from keyless.store import ec2 as ec2_store

TERMINATED_VISIBLE_FOR = 3600
_INSTANCE_ID = re.compile(r"i-([0-9a-f]{8}|[0-9a-f]{17})")

INSTANCE_FILTERS: dict[str, filters.Extractor] = {
    "instance-id": lambda i: [i["row"]["id"]],
    "instance-state-name": lambda i: [i["row"]["state"]],
    "instance-state-code": lambda i: [str(shapes.STATE_CODES[i["row"]["state"]])],
    "instance-type": lambda i: [i["row"]["instance_type"]],
    "image-id": lambda i: [i["row"]["image_id"]],
    "reservation-id": lambda i: [i["row"]["reservation_id"]],
    "availability-zone": lambda i: [i["row"]["availability_zone"]],
    "private-ip-address": lambda i: [i["row"]["private_ip"]],
    "private-dns-name": lambda i: [shapes.hostname(i["row"], i["row"]["region"])],
    "vpc-id": lambda i: [i["row"]["vpc_id"]],
    "subnet-id": lambda i: [i["row"]["subnet_id"]],
    "key-name": lambda i: [i["row"]["key_name"]] if i["row"]["key_name"] else [],
    "launch-index": lambda i: [str(i["row"]["ami_launch_index"])],
    "owner-id": lambda i: [i["row"]["account"]],
    "tag-key": lambda i: [t["Key"] for t in ec2_store.tags(i["row"])],
    "tag-value": lambda i: [t["Value"] for t in ec2_store.tags(i["row"])],
    "iam-instance-profile.arn": lambda i: [i["association"]["profile_arn"]] if i["association"] else [],
    "iam-instance-profile.id": lambda i: [i["association"]["profile_id"]] if i["association"] else [],
    "metadata-options.http-tokens": lambda i: [ec2_store.metadata_options(i["row"])["HttpTokens"]],
    "metadata-options.http-endpoint": lambda i: [ec2_store.metadata_options(i["row"])["HttpEndpoint"]],
}
TAG_FILTERS = {"tag:": lambda i, key: [t["Value"] for t in ec2_store.tags(i["row"]) if t["Key"] == key]}
STATUS_FILTERS: dict[str, filters.Extractor] = {
    "instance-state-name": lambda r: [r["state"]],
    "instance-state-code": lambda r: [str(shapes.STATE_CODES[r["state"]])],
    "availability-zone": lambda r: [r["availability_zone"]],
    "instance-status.status": lambda r: [shapes.instance_status(r)["InstanceStatus"]["Status"]],
    "system-status.status": lambda r: [shapes.instance_status(r)["SystemStatus"]["Status"]],
}


def _imds(ctx: RequestContext) -> Any:
    return ctx.state.components["imds"]


def _dry_run(params: dict[str, Any]) -> None:
    if params.get("DryRun"):
        raise DryRunOperation()


def user_initiated(now: float) -> str:
    return f"User initiated ({datetime.fromtimestamp(now, tz=timezone.utc).strftime('%Y-%m-%d %H:%M:%S')} GMT)"


def existing(ctx: RequestContext, instance_ids: list[str]) -> list[dict[str, Any]]:
    """The named instances, in the order named; InvalidInstanceID.* for any that are not."""
    for instance_id in instance_ids:
        if not _INSTANCE_ID.fullmatch(instance_id):
            raise InvalidInstanceIDMalformed(f'Invalid id: "{instance_id}"')
    with ctx.state.db.read() as conn:
        rows = {r["id"]: r for r in ec2_store.list_instances(conn, ctx.account, ids=instance_ids)}
    missing = [i for i in instance_ids if i not in rows or not _visible(ctx, rows[i])]
    if missing:
        raise InvalidInstanceIDNotFound.for_ids(missing)
    return [rows[i] for i in dict.fromkeys(instance_ids)]


def _visible(ctx: RequestContext, row: dict[str, Any]) -> bool:
    return row["state"] != "terminated" or ctx.state.clock.time() - row["state_changed"] < TERMINATED_VISIBLE_FOR


# --- RunInstances -----------------------------------------------------------------------------


def run_instances_handler(profiles: ProfileLookup):  # type: ignore[no-untyped-def]
    async def run_instances(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        request = launch.parse_launch(ctx, params)
        profile = profiles.require(ctx.account, params["IamInstanceProfile"]) if params.get("IamInstanceProfile") else None
        _dry_run(params)
        if request.client_token:
            with ctx.state.db.read() as conn:
                earlier = ec2_store.find_by_client_token(conn, ctx.account, request.client_token)
            if earlier:  # idempotent retry: the same reservation again
                return _reservation(ctx, earlier, launching=True)
        now = ctx.state.clock.time()
        with ctx.state.db.begin(iam=False) as conn:
            used_ips = ec2_store.used_private_ips(conn, ctx.account, network.default_vpc_id(ctx.account, ctx.region))
            ips = network.private_ips(request.count, request.private_ip, used_ips)
            taken = ec2_store.used_imds_ports(conn)
            ports = []
            for _ in range(request.count):
                ports.append(allocate_port(taken | set(ports)))
            rows = launch.instance_rows(ctx, request, ips=ips, ports=ports, reservation_id=ids.hex_id("r-"), now=now)
            for row in rows:
                ec2_store.insert_instance(conn, **row)
                if profile is not None:
                    ec2_store.insert_association(conn, **launch.association_row(row["id"], profile, now))
        for row in rows:
            await _imds(ctx).instance_running(row["id"])
        return _reservation(ctx, rows, launching=True)

    return run_instances


def _reservation(ctx: RequestContext, rows: list[dict[str, Any]], *, launching: bool = False) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        associations = ec2_store.current_associations(conn, [r["id"] for r in rows])
    group = {"GroupId": "sg-" + rows[0]["vpc_id"][4:], "GroupName": "default"}
    return {
        "ReservationId": rows[0]["reservation_id"], "OwnerId": ctx.account, "Groups": [group],
        "Instances": [shapes.instance(r, associations.get(r["id"]), launching=launching) for r in rows],
    }


# --- DescribeInstances / DescribeInstanceStatus ---------------------------------------------------


def describe_instances(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    instance_ids = params.get("InstanceIds") or None
    filters.no_ids_with_max_results(instance_ids, params.get("MaxResults"), "instancesSet")
    _dry_run(params)
    if instance_ids:
        rows = existing(ctx, instance_ids)
    else:
        with ctx.state.db.read() as conn:
            rows = [r for r in ec2_store.list_instances(conn, ctx.account) if _visible(ctx, r)]
    with ctx.state.db.read() as conn:
        associations = ec2_store.current_associations(conn, [r["id"] for r in rows])
    items = [{"row": r, "association": associations.get(r["id"])} for r in rows]
    items = filters.apply(items, params.get("Filters"), INSTANCE_FILTERS, TAG_FILTERS)
    items, token = filters.page(items, params.get("MaxResults"), params.get("NextToken"))
    reservations: dict[str, dict[str, Any]] = {}
    for item in items:
        row = item["row"]
        reservation = reservations.setdefault(row["reservation_id"], {
            "ReservationId": row["reservation_id"], "OwnerId": ctx.account,
            "Groups": [], "Instances": []})
        reservation["Instances"].append(shapes.instance(row, item["association"]))
    out: dict[str, Any] = {"Reservations": list(reservations.values())}
    if token:
        out["NextToken"] = token
    return out


def describe_instance_status(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    instance_ids = params.get("InstanceIds") or None
    filters.no_ids_with_max_results(instance_ids, params.get("MaxResults"), "instancesSet")
    _dry_run(params)
    if instance_ids:
        rows = existing(ctx, instance_ids)
    else:
        with ctx.state.db.read() as conn:
            rows = [r for r in ec2_store.list_instances(conn, ctx.account) if _visible(ctx, r)]
    if not params.get("IncludeAllInstances"):
        rows = [r for r in rows if r["state"] == "running"]
    rows = filters.apply(rows, params.get("Filters"), STATUS_FILTERS)
    rows, token = filters.page(rows, params.get("MaxResults"), params.get("NextToken"))
    out: dict[str, Any] = {"InstanceStatuses": [shapes.instance_status(r) for r in rows]}
    if token:
        out["NextToken"] = token
    return out


# --- state changes ------------------------------------------------------------------------------


async def start_instances(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    rows = existing(ctx, params.get("InstanceIds") or [])
    for row in rows:
        if row["state"] in ("terminated", "shutting-down"):
            raise IncorrectInstanceState(f"The instance '{row['id']}' is not in a state from which it can be started.")
    _dry_run(params)
    now = ctx.state.clock.time()
    changes = []
    with ctx.state.db.begin(iam=False) as conn:
        for row in rows:
            if row["state"] == "stopped":
                port = row["imds_port"] or allocate_port(ec2_store.used_imds_ports(conn))
                ec2_store.update_instance(conn, row["id"], state="running", state_reason="", launch_time=now,
                                          state_changed=now, imds_port=port)
                changes.append(shapes.state_change(row["id"], "stopped", "pending"))
            else:
                changes.append(shapes.state_change(row["id"], row["state"], row["state"]))
    for row in rows:
        await _imds(ctx).instance_running(row["id"])
    return {"StartingInstances": changes}


async def stop_instances(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    rows = existing(ctx, params.get("InstanceIds") or [])
    for row in rows:
        if row["state"] in ("terminated", "shutting-down"):
            raise IncorrectInstanceState(f"The instance '{row['id']}' is not in a state from which it can be stopped.")
    _dry_run(params)
    now = ctx.state.clock.time()
    changes = []
    with ctx.state.db.begin(iam=False) as conn:
        for row in rows:
            if row["state"] in ("running", "pending"):
                ec2_store.update_instance(conn, row["id"], state="stopped", state_reason=user_initiated(now),
                                          state_changed=now)
                changes.append(shapes.state_change(row["id"], row["state"], "stopping"))
            else:
                changes.append(shapes.state_change(row["id"], row["state"], row["state"]))
    for row in rows:
        await _imds(ctx).instance_halted(row["id"])
    return {"StoppingInstances": changes}


async def terminate_instances(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    rows = existing(ctx, params.get("InstanceIds") or [])
    _dry_run(params)
    now = ctx.state.clock.time()
    changes = []
    with ctx.state.db.begin(iam=False) as conn:
        for row in rows:
            if row["state"] == "terminated":
                changes.append(shapes.state_change(row["id"], "terminated", "terminated"))
                continue
            # The port is released: a terminated instance never runs again.
            ec2_store.update_instance(conn, row["id"], state="terminated", state_reason=user_initiated(now),
                                      state_changed=now, imds_port=None)
            association = ec2_store.current_association(conn, row["id"])
            if association is not None:
                ec2_store.set_association_state(conn, association["association_id"], "disassociated", now)
            changes.append(shapes.state_change(row["id"], row["state"], "shutting-down"))
    for row in rows:
        await _imds(ctx).instance_halted(row["id"])
    return {"TerminatingInstances": changes}


def reboot_instances(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    rows = existing(ctx, params.get("InstanceIds") or [])
    for row in rows:
        if row["state"] in ("terminated", "shutting-down"):
            raise IncorrectInstanceState(f"The instance '{row['id']}' is not in a state from which it can be rebooted.")
    _dry_run(params)
    return {}

