"""STS: GetCallerIdentity, GetSessionToken, AssumeRole (query protocol)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keyless.services.base import Service
from keyless.services.sts import handlers
from keyless.services.sts.access import access

if TYPE_CHECKING:
    from keyless.server.state import AppState

OPERATIONS = ["GetCallerIdentity", "GetSessionToken", "AssumeRole", "DecodeAuthorizationMessage"]


def service(state: AppState) -> Service:
    # GetCallerIdentity answers from the caller alone, which the read cache keys by user id and ARN.
    return Service.from_module("sts", handlers, OPERATIONS, access, cacheable_reads=frozenset({"GetCallerIdentity"}))
