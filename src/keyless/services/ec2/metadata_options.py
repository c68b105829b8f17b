"""ModifyInstanceMetadataOptions: omitted fields keep their value; allowed on running and stopped
instances. The response says `pending` for a running instance, as EC2's does, while the new
options already apply to the next metadata request (Describe then says `applied`)."""

from __future__ import annotations

import json
from typing import Any

from keyless.services.base import RequestContext
from keyless.services.ec2 import shapes
from keyless.services.ec2.errors import DryRunOperation, IncorrectInstanceState
from keyless.services.ec2.instances import existing
from keyless.services.ec2.launch import merge_metadata_options
from keyless.store import ec2 as ec2_store

_OPTIONS = ("HttpTokens", "HttpPutResponseHopLimit", "HttpEndpoint", "HttpProtocolIpv6", "InstanceMetadataTags")


def modify_instance_metadata_options(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    (row,) = existing(ctx, [params.get("InstanceId", "")])
    if row["state"] in ("terminated", "shutting-down"):
        raise IncorrectInstanceState(f"The instance '{row['id']}' is not in a valid state for this operation.")
    options = merge_metadata_options(ec2_store.metadata_options(row), {k: params.get(k) for k in _OPTIONS})
    if params.get("DryRun"):
        raise DryRunOperation()
    with ctx.state.db.begin(iam=False) as conn:
        ec2_store.update_instance(conn, row["id"], metadata_options=json.dumps(options))
    ctx.state.components["imds"].instance_changed(row["id"])
    updated = {**row, "metadata_options": json.dumps(options)}
    return {"InstanceId": row["id"],
            "InstanceMetadataOptions": shapes.metadata_options(updated, applied=row["state"] != "running")}
