"""The credential source behind every instance's iam/ subtree, backed by the store:

    association -> instance profile -> role -> trust policy allows ec2.amazonaws.com?
    -> an STS session of the role named after the instance (keyless.services.sts.sessions),
       carrying the EC2 context keys, rotated on the Schedule, recorded in the trail.

Profile and role lookups are cached until the next IAM write (db.generation). The trust policy
is evaluated by the policy engine whenever a new set is due, as AWS checks at each delivery: a
trust policy that stops naming EC2 ends delivery at the next rotation, while credentials already
issued stay valid until they expire. A refusal is remembered until the next IAM write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keyless.imds.model import IamState, InstanceView, iso
from keyless.imds.rotation import CredentialSet, Vendor
from keyless.imds.tree import assume_role_unauthorized, credentials_document
from keyless.store import iam as iam_store

if TYPE_CHECKING:
    from keyless.server.state import AppState

log = logging.getLogger("keyless.imds")

EC2_SERVICE = "ec2.amazonaws.com"


@dataclass(frozen=True)
class _Resolved:
    generation: int
    profile: dict[str, Any] | None
    role: dict[str, Any] | None


class RoleSource:
    def __init__(self, state: AppState, vendor: Vendor) -> None:
        self._state = state
        self._vendor = vendor
        self._resolved: dict[str, _Resolved] = {}
        self._refused: dict[tuple[str, str], int] = {}  # (association, role id) -> generation refused at

    # --- the CredentialSource protocol --------------------------------------------------------

    def iam_state(self, view: InstanceView) -> IamState | None:
        if view.profile is None:
            return None
        resolved = self._resolve(view.profile.arn)
        last = self._vendor.last_issued(view.instance_id) or view.profile.associated_at
        if resolved.profile is None:
            return IamState("InstanceProfileNotFound", view.profile.arn, view.profile.id, None, last)
        if resolved.role is None:
            return IamState("InvalidInstanceProfile", view.profile.arn, view.profile.id, None, last)
        return IamState("Success", view.profile.arn, view.profile.id, resolved.role["name"], last)

    def credentials(self, view: InstanceView, delivery: str) -> dict[str, Any]:
        profile = view.profile
        role = self._resolve(profile.arn).role if profile is not None else None
        now = self._state.clock.time()
        if profile is None or role is None:  # the tree only asks when iam_state named a role
            return {"Code": "InstanceProfileNotFound", "Message": "No role is associated with this instance.",
                    "LastUpdated": iso(now)}
        identity = (profile.association_id, role["id"])
        refused_at = self._refused.get(identity)
        if refused_at is not None and refused_at == self._state.db.generation:
            return assume_role_unauthorized(role["name"], now)
        try:
            cs, _ = self._vendor.current(view.instance_id, delivery, identity, self._minter(view, role, delivery))
        except _TrustRefused:
            self._refused[identity] = self._state.db.generation
            return assume_role_unauthorized(role["name"], now)
        self._refused.pop(identity, None)
        return credentials_document(cs.access_key_id, cs.secret_access_key, cs.token, cs.issued_at, cs.expiration)

    # --- resolution, trust and minting --------------------------------------------------------

    def _resolve(self, profile_arn: str) -> _Resolved:
        generation = self._state.db.generation
        hit = self._resolved.get(profile_arn)
        if hit is not None and hit.generation == generation:
            return hit
        with self._state.db.read() as conn:
            profile = iam_store.get_instance_profile_by_arn(conn, profile_arn)
            role = iam_store.instance_profile_role(conn, profile["id"]) if profile else None
        if len(self._resolved) > 10_000:
            self._resolved.clear()
        hit = self._resolved[profile_arn] = _Resolved(generation, profile, role)
        return hit

    def _minter(self, view: InstanceView, role: dict[str, Any], delivery: str):  # type: ignore[no-untyped-def]
        def mint(now: float, lifetime: int) -> CredentialSet:
            if not trusts_ec2(self._state, role, view, now):
                raise _TrustRefused()
            return self._issue(view, role, delivery, now, lifetime)
        return mint

    def _issue(self, view: InstanceView, role: dict[str, Any], delivery: str, now: float, lifetime: int) -> CredentialSet:
        from keyless.services.sts.sessions import issue_role_session

        ec2 = {"ec2:SourceInstanceARN": view.arn, "ec2:RoleDelivery": delivery,
               "aws:Ec2InstanceSourceVpc": view.vpc_id, "aws:Ec2InstanceSourcePrivateIPv4": view.private_ip}
        issued = issue_role_session(self._state, role, view.instance_id, duration=lifetime, ec2=ec2, now=now)
        self._record(view, role, issued)
        return CredentialSet(issued.access_key_id, issued.secret_access_key, issued.session_token,
                             issued.issued_at, issued.expiration)

    def _record(self, view: InstanceView, role: dict[str, Any], issued: Any) -> None:
        """AWS logs each delivery as an AssumeRole by ec2.amazonaws.com (reference/cloudtrail.md)."""
        recorder = self._state.components.get("trail")
        if recorder is None:
            return
        from keyless.trail.events import ec2_credential_delivery

        recorder.record_event(ec2_credential_delivery(
            time=issued.issued_at, region=view.region, account=view.account, role_arn=role["arn"],
            instance_id=view.instance_id, access_key_id=issued.access_key_id, expiration=issued.expiration,
            assumed_role_id=issued.principal_id, session_arn=issued.arn))


class _TrustRefused(Exception):
    pass


def trusts_ec2(state: AppState, role: dict[str, Any], view: InstanceView, now: float) -> bool:
    """Does the role's trust policy let ec2.amazonaws.com call sts:AssumeRole? Asked of the engine,
    with the service as the principal, like AssumeRole asks for users and roles."""
    from keyless.auth.policies import compiled
    from keyless.policy import PolicyKind, Principal, Request, evaluate_trust

    principal = Principal(arn=None, type="Service", service=EC2_SERVICE)
    context = {
        "aws:CurrentTime": iso(now), "aws:EpochTime": str(int(now)), "aws:PrincipalType": "Service",
        "aws:PrincipalServiceName": EC2_SERVICE, "aws:PrincipalIsAWSService": "true",
        "aws:SourceAccount": view.account, "aws:SourceArn": view.arn, "sts:RoleSessionName": view.instance_id,
        "aws:RequestedRegion": view.region,
    }
    request = Request(action="sts:AssumeRole", resource=role["arn"], principal=principal, context=context)
    trust = compiled(role["trust_policy"], PolicyKind.TRUST, "trust", role["arn"])
    decision = evaluate_trust(request, trust)
    if not decision.allowed:
        log.info("EC2 may not assume %s for %s: %s", role["arn"], view.instance_id, decision.result)
    return decision.allowed
