"""The services this server speaks, by botocore name. Adding a service = one line here."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from keyless.services.base import Service

if TYPE_CHECKING:
    from keyless.server.state import AppState

SERVICE_PACKAGES = ("iam", "sts", "ec2", "s3", "cloudtrail")


def build_services(state: AppState) -> dict[str, Service]:
    services: dict[str, Service] = {}
    for name in SERVICE_PACKAGES:
        try:
            module = importlib.import_module(f"keyless.services.{name}")
        except ModuleNotFoundError as exc:  # a service not built yet
            if exc.name != f"keyless.services.{name}":
                raise
            continue
        services[name] = module.service(state)
    return services
