"""One instance's metadata service, its HTTP connection driven in memory: bytes in, statuses out.

The connection class is the listener's own; only the socket is replaced by a transport that
records what would have been written.
"""

from __future__ import annotations

import re
from typing import Any

from keyless.clock import Clock
from keyless.imds.listener import _Connection
from keyless.imds.model import IamState, InstanceView, MetadataOptions, ProfileRef
from keyless.imds.service import InstanceMetadataService
from keyless.imds.tokens import TokenIssuer
from keyless.imds.tree import credentials_document

_STATUS = re.compile(rb"HTTP/1\.1 (\d{3}) ")
_CLOCK = Clock()
_PROFILE = ProfileRef("iip-assoc-0123456789abcdef0", "arn:aws:iam::123456789012:instance-profile/app",
                      "AIPAEXAMPLEEXAMPLE01", 1_700_000_000.0)


class _Source:
    def iam_state(self, view: InstanceView) -> IamState | None:
        return IamState("Success", _PROFILE.arn, _PROFILE.id, "app-role", _CLOCK.time())

    def credentials(self, view: InstanceView, delivery: str) -> dict[str, Any]:
        now = _CLOCK.time()
        return credentials_document("ASIAFUZZ", "secret", "token", now, now + 3600)


def _view(tokens: str) -> InstanceView:
    return InstanceView(
        instance_id="i-0123456789abcdef0", account="123456789012", region="us-east-1",
        availability_zone="us-east-1a", instance_type="t3.micro", image_id="ami-12345678",
        reservation_id="r-0123456789abcdef0", ami_launch_index=0, private_ip="172.31.5.9",
        mac="0e:12:34:56:78:9a", vpc_id="vpc-0123456789abcdef0", subnet_id="subnet-0123456789abcdef0",
        launch_time=1_700_000_000.0, boot="boot-1",
        options=MetadataOptions(http_tokens=tokens, instance_metadata_tags="enabled"),
        tags=(("Name", "web"),), user_data=b"#!/bin/sh\n", profile=_PROFILE,
    )


_SERVICES = {mode: InstanceMetadataService(_view(mode), _Source(), TokenIssuer(_CLOCK)) for mode in ("optional", "required")}


class _Transport:
    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else None

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def feed(data: bytes, *, required: bool = False) -> list[int]:
    """The statuses of every answer the listener writes for `data`, sent in one piece."""
    transport = _Transport()
    connection = _Connection(_SERVICES["required" if required else "optional"], set())
    connection.connection_made(transport)  # type: ignore[arg-type]
    connection.data_received(data)
    connection.connection_lost(None)
    return [int(m.group(1)) for m in _STATUS.finditer(bytes(transport.written))]
