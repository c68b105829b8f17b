"""EC2 (ec2 protocol): instances, instance-profile associations and metadata options, and the
per-instance metadata services (keyless.imds) that run alongside running instances.

    service(state) -> Service     registers the IMDS manager as state.components["imds"], which the
                                  ASGI lifespan starts (listeners of instances already running) and stops

Handlers live in one module per resource (instances, associations, metadata_options); `access`
maps each call to what AWS authorizes, iam:PassRole included; denials are UnauthorizedOperation
with an encoded authorization message (authorization.py). Other operations of the model answer
NotImplemented.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import botocore.session

from keyless.services.base import Service
from keyless.services.ec2 import handlers
from keyless.services.ec2.access import access_map
from keyless.services.ec2.authorization import denied
from keyless.services.ec2.profiles import ProfileLookup

if TYPE_CHECKING:
    from keyless.server.state import AppState


@lru_cache(maxsize=1)
def operations() -> list[str]:
    return list(botocore.session.get_session().get_service_model("ec2").operation_names)


def service(state: AppState) -> Service:
    from keyless.imds.manager import ImdsManager

    state.components["imds"] = ImdsManager(state)
    profiles = ProfileLookup(state.db)
    module: Any = handlers.build(profiles)
    return Service.from_module("ec2", module, operations(), access_map(profiles), denied=denied)
