"""Instance-profile associations: Associate, Replace, Disassociate, Describe.

The store keeps `associated` for the live association and `disassociated` for ended ones; the
responses show the transition EC2 reports (Associate/Replace `associating`, Disassociate
`disassociating`). Changes reach the instance's metadata service before the response, so IMDS
serves the new role (or none) on its next request; credentials already handed out stay valid
until they expire, as on AWS. (AWS may keep serving the old role until its next rotation;
keyless switches at once - see docs/compatibility.md.)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy.exc

from keyless.services.base import RequestContext
from keyless.services.ec2 import filters, launch, shapes
from keyless.services.ec2.errors import IncorrectState, InvalidAssociationIDNotFound
from keyless.services.ec2.instances import existing
from keyless.services.ec2.profiles import ProfileLookup
from keyless.store import ec2 as ec2_store

ASSOCIABLE_STATES = ("pending", "running", "stopping", "stopped")
ASSOCIATION_FILTERS: dict[str, filters.Extractor] = {
    "instance-id": lambda a: [a["instance_id"]],
    "state": lambda a: [a["state"]],
}


def _live_association(ctx: RequestContext, association_id: str) -> dict[str, Any]:
    with ctx.state.db.read() as conn:
        row = ec2_store.get_association(conn, ctx.account, association_id) if association_id else None
    if row is None or row["state"] not in ec2_store.ACTIVE_ASSOCIATION_STATES:
        raise InvalidAssociationIDNotFound(f"The association ID '{association_id}' does not exist")
    return row


def associate_handlers(profiles: ProfileLookup):  # type: ignore[no-untyped-def]
    async def associate_iam_instance_profile(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        (instance,) = existing(ctx, [params.get("InstanceId", "")])
        profile = profiles.require(ctx.account, params.get("IamInstanceProfile"))
        if instance["state"] not in ASSOCIABLE_STATES:
            raise IncorrectState(f"The instance '{instance['id']}' is not in a valid state for this operation.")
        now = ctx.state.clock.time()
        row = launch.association_row(instance["id"], profile, now)
        try:
            with ctx.state.db.begin(iam=False) as conn:
                if ec2_store.current_association(conn, instance["id"]) is not None:
                    raise IncorrectState(f"There is an existing association for instance {instance['id']}")
                ec2_store.insert_association(conn, **row)
        except sqlalchemy.exc.IntegrityError:  # a concurrent Associate won the race
            raise IncorrectState(f"There is an existing association for instance {instance['id']}") from None
        ctx.state.components["imds"].instance_changed(instance["id"])
        return {"IamInstanceProfileAssociation": shapes.association(row, state_name="associating")}

    async def replace_iam_instance_profile_association(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        old = _live_association(ctx, params.get("AssociationId", ""))
        profile = profiles.require(ctx.account, params.get("IamInstanceProfile"))
        (instance,) = existing(ctx, [old["instance_id"]])
        if instance["state"] != "running":  # Replace needs a running instance [ec2r]
            raise IncorrectState(f"The instance '{instance['id']}' is not in a valid state for this operation.")
        now = ctx.state.clock.time()
        row = launch.association_row(instance["id"], profile, now)
        with ctx.state.db.begin(iam=False) as conn:
            ec2_store.set_association_state(conn, old["association_id"], "disassociated", now)
            ec2_store.insert_association(conn, **row)
        ctx.state.components["imds"].instance_changed(instance["id"])
        return {"IamInstanceProfileAssociation": shapes.association(row, state_name="associating")}

    return associate_iam_instance_profile, replace_iam_instance_profile_association


def disassociate_iam_instance_profile(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    row = _live_association(ctx, params.get("AssociationId", ""))
    now = ctx.state.clock.time()
    with ctx.state.db.begin(iam=False) as conn:
        ec2_store.set_association_state(conn, row["association_id"], "disassociated", now)
    ctx.state.components["imds"].instance_changed(row["instance_id"])
    return {"IamInstanceProfileAssociation": shapes.association(row, state_name="disassociating")}


def describe_iam_instance_profile_associations(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    association_ids = params.get("AssociationIds") or None
    filters.no_ids_with_max_results(association_ids, params.get("MaxResults"), "associationIds")
    with ctx.state.db.read() as conn:
        rows = ec2_store.list_associations(conn, ctx.account, ids=association_ids)
    if association_ids:
        found = {r["association_id"] for r in rows}
        missing = [a for a in association_ids if a not in found]
        if missing:
            raise InvalidAssociationIDNotFound(f"The association ID '{missing[0]}' does not exist")
    wants_ended = any(f.get("Name") == "state" and "disassociated" in (f.get("Values") or ())
                      for f in params.get("Filters") or ())
    if not association_ids and not wants_ended:  # ended associations show only when asked for
        rows = [r for r in rows if r["state"] in ec2_store.ACTIVE_ASSOCIATION_STATES]
    rows = filters.apply(rows, params.get("Filters"), ASSOCIATION_FILTERS)
    rows, token = filters.page(rows, params.get("MaxResults"), params.get("NextToken"))
    out: dict[str, Any] = {"IamInstanceProfileAssociations": [shapes.association(r) for r in rows]}
    if token:
        out["NextToken"] = token
    return out

