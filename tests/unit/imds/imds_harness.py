"""One instance's metadata service on 127.0.0.1, in its own event-loop thread, over a fake
credential source (the rotation vendor minting fake sets): IMDS without the rest of keyless."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from typing import Any, Iterator

from keyless.clock import Clock
from keyless.imds.listener import Listener
from keyless.imds.model import IamState, InstanceView, MetadataOptions, ProfileRef
from keyless.imds.rotation import CredentialSet, Schedule, Vendor
from keyless.imds.service import InstanceMetadataService
from keyless.imds.tokens import TokenIssuer
from keyless.imds.tree import assume_role_unauthorized, credentials_document
from keyless.testing import free_port

PROFILE = ProfileRef("iip-assoc-0123456789abcdef0", "arn:aws:iam::123456789012:instance-profile/app-profile",
                     "AIPAEXAMPLEEXAMPLE01", 1_700_000_000.0)


def make_view(**changes: Any) -> InstanceView:
    view = InstanceView(
        instance_id="i-0123456789abcdef0", account="123456789012", region="us-east-1",
        availability_zone="us-east-1a", instance_type="t3.micro", image_id="ami-12345678",
        reservation_id="r-0123456789abcdef0", ami_launch_index=0, private_ip="172.31.5.9",
        mac="0e:12:34:56:78:9a", vpc_id="vpc-0123456789abcdef0", subnet_id="subnet-0123456789abcdef0",
        launch_time=1_700_000_000.0, boot="boot-1", options=MetadataOptions(), tags=(("Name", "web"),),
        user_data=b"#!/bin/sh\necho hello\n", profile=PROFILE,
    )
    return dataclasses.replace(view, **changes)


class FakeSource:
    """Role `app-role`; every minted set is kept so tests can check what the server thinks."""

    def __init__(self, clock: Clock, schedule: Schedule) -> None:
        self.clock = clock
        self.vendor = Vendor(clock, schedule)
        self.trusted = True
        self.minted: list[tuple[str, CredentialSet]] = []  # (delivery, set)

    def iam_state(self, view: InstanceView) -> IamState | None:
        if view.profile is None:
            return None
        return IamState("Success", view.profile.arn, view.profile.id, "app-role", self.clock.time())

    def credentials(self, view: InstanceView, delivery: str) -> dict[str, Any]:
        if not self.trusted:
            return assume_role_unauthorized("app-role", self.clock.time())

        def mint(now: float, lifetime: int) -> CredentialSet:
            n = len(self.minted)
            fresh = CredentialSet(f"ASIAFAKE{n:012d}", f"secret{n}", f"token{n}", now, now + lifetime)
            self.minted.append((delivery, fresh))
            return fresh

        cs, _ = self.vendor.current(view.instance_id, delivery, view.profile, mint)
        return credentials_document(cs.access_key_id, cs.secret_access_key, cs.token, cs.issued_at, cs.expiration)

    def expiration_of(self, access_key_id: str) -> float:
        return next(cs.expiration for _, cs in self.minted if cs.access_key_id == access_key_id)


class RunningImds:
    def __init__(self, view: InstanceView | None = None, schedule: Schedule | None = None,
                 identity: Any = None) -> None:
        self.clock = Clock()
        self.source = FakeSource(self.clock, schedule or Schedule())
        self.tokens = TokenIssuer(self.clock)
        self.service = InstanceMetadataService(view or make_view(), self.source, self.tokens, identity)
        self.port = free_port()
        self.listener = Listener(self.port, self.service)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return self.listener.endpoint

    def start(self) -> RunningImds:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.listener.start(), self.loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.listener.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def update(self, **changes: Any) -> None:
        self.service.update(dataclasses.replace(self.service.view, **changes))


def running(**kw: Any) -> Iterator[RunningImds]:
    imds = RunningImds(**kw).start()
    try:
        yield imds
    finally:
        imds.stop()
