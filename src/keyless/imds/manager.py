"""The metadata services of all running instances: started with the server (ASGI lifespan),
started and stopped with their instances by the EC2 handlers, refreshed when EC2 changes an
instance (association, metadata options, tags), so the next request sees the change.

    manager = ImdsManager(state)           registered as state.components["imds"]
    await manager.start() / stop()         lifespan
    await manager.instance_running(id)     RunInstances, StartInstances
    await manager.instance_halted(id)      StopInstances, TerminateInstances
    manager.instance_changed(id)           associations, ModifyInstanceMetadataOptions
    manager.endpoint(id)                   http://127.0.0.1:PORT/ while running
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any, Mapping

from keyless.imds.identity import IdentitySigner
from keyless.imds.listener import Listener
from keyless.imds.model import InstanceView, MetadataOptions, ProfileRef
from keyless.imds.ports import allocate_port
from keyless.imds.roles import RoleSource
from keyless.imds.rotation import Schedule, Vendor
from keyless.imds.service import InstanceMetadataService
from keyless.imds.tokens import TokenIssuer
from keyless.store import ec2 as ec2_store

if TYPE_CHECKING:
    from keyless.server.state import AppState

log = logging.getLogger("keyless.imds")

SERVING_STATES = ("pending", "running")


class ImdsManager:
    def __init__(self, state: AppState) -> None:
        settings = state.settings
        self._state = state
        self.vendor = Vendor(state.clock, Schedule(settings.imds_credential_lifetime, settings.imds_rotation_interval))
        self.source = RoleSource(state, self.vendor)
        self.tokens = TokenIssuer(state.clock)
        self._signer: IdentitySigner | None = None
        self._running: dict[str, tuple[InstanceMetadataService, Listener]] = {}

    @property
    def signer(self) -> IdentitySigner:
        if self._signer is None:  # RSA key generation is slow: only when a document is first asked for
            self._signer = IdentitySigner(self._state.settings.data_dir, self._state.settings.account_id)
        return self._signer

    def _identity_documents(self, view: InstanceView) -> dict[str, str]:
        return self.signer.documents(view)

    # --- lifespan -----------------------------------------------------------------------------

    async def start(self) -> None:
        with self._state.db.read() as conn:
            rows = ec2_store.instances_in_states(conn, SERVING_STATES)
        for row in rows:
            await self.instance_running(row["id"])

    async def stop(self) -> None:
        for instance_id in list(self._running):
            await self.instance_halted(instance_id)

    # --- instance life ------------------------------------------------------------------------

    async def instance_running(self, instance_id: str) -> None:
        view, port = self._load(instance_id)
        if view is None:
            return
        held = self._running.get(instance_id)
        if held is not None:
            held[0].update(view)
            return
        service = InstanceMetadataService(view, self.source, self.tokens, self._identity_documents)
        listener = Listener(port, service)
        try:
            await listener.start()
        except OSError:  # something else took the port while we were down: move, and say so
            listener = Listener(self._reassign_port(instance_id), service)
            await listener.start()
            log.warning("IMDS port %d of %s was taken; moved to %d", port, instance_id, listener.port)
        self._running[instance_id] = (service, listener)

    async def instance_halted(self, instance_id: str) -> None:
        held = self._running.pop(instance_id, None)
        self.vendor.forget(instance_id)
        if held is not None:
            await held[1].stop()

    def instance_changed(self, instance_id: str) -> None:
        held = self._running.get(instance_id)
        if held is None:
            return
        view, _ = self._load(instance_id)
        if view is not None:
            held[0].update(view)

    def endpoint(self, instance_id: str) -> str | None:
        held = self._running.get(instance_id)
        return held[1].endpoint if held else None

    # --- store --------------------------------------------------------------------------------

    def _load(self, instance_id: str) -> tuple[InstanceView | None, int]:
        with self._state.db.read() as conn:
            row = ec2_store.get_instance(conn, self._state.settings.account_id, instance_id)
            association = ec2_store.current_association(conn, instance_id) if row else None
        if row is None or row["state"] not in SERVING_STATES or row["imds_port"] is None:
            return None, 0
        return view_from_rows(row, association), int(row["imds_port"])

    def _reassign_port(self, instance_id: str) -> int:
        with self._state.db.begin(iam=False) as conn:
            port = allocate_port(ec2_store.used_imds_ports(conn))
            ec2_store.update_instance(conn, instance_id, imds_port=port)
        return port


def view_from_rows(row: Mapping[str, Any], association: Mapping[str, Any] | None) -> InstanceView:
    profile = None
    if association is not None:
        profile = ProfileRef(association["association_id"], association["profile_arn"], association["profile_id"],
                             association["created"])
    user_data = base64.b64decode(row["user_data"]) if row["user_data"] else None
    return InstanceView(
        instance_id=row["id"], account=row["account"], region=row["region"],
        availability_zone=row["availability_zone"], instance_type=row["instance_type"], image_id=row["image_id"],
        reservation_id=row["reservation_id"], ami_launch_index=row["ami_launch_index"], private_ip=row["private_ip"],
        mac=row["mac"], vpc_id=row["vpc_id"], subnet_id=row["subnet_id"], launch_time=row["launch_time"],
        boot=f"{row['id']}@{row['launch_time']!r}",
        options=MetadataOptions.from_dict(ec2_store.metadata_options(row)),
        tags=tuple((t["Key"], t["Value"]) for t in ec2_store.tags(row)),
        user_data=user_data, profile=profile,
    )
