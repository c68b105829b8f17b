"""IAM (query protocol): users, access keys, roles, inline and managed policies, permissions
boundaries, instance profiles and the policy simulator, over the store.

Handlers live in one module per resource (users, access_keys, roles, inline, managed,
attachments, instance_profiles, simulate); `access` maps each call to what AWS authorizes.
Operations of the model without a handler answer NotImplemented.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import botocore.session

from keyless.services.base import Service
from keyless.services.iam import handlers
from keyless.services.iam.access import access_map

if TYPE_CHECKING:
    from keyless.server.state import AppState


@lru_cache(maxsize=1)
def operations() -> list[str]:
    return list(botocore.session.get_session().get_service_model("iam").operation_names)


# Reads whose answer is a function of IAM state, the caller and the input alone: the pipeline
# keeps their answers until the next IAM write. Last-used and access-report reads are not.
_UNCACHEABLE = {"GetAccessKeyLastUsed", "GetServiceLastAccessedDetails", "GetServiceLastAccessedDetailsWithEntities",
                "GetCredentialReport", "GenerateServiceLastAccessedDetails", "GenerateCredentialReport"}


def service(state: AppState) -> Service:
    ops = operations()
    cacheable = frozenset(op for op in ops if op.startswith(("Get", "List")) and op not in _UNCACHEABLE)
    return Service.from_module("iam", handlers, ops, access_map(state.db), cacheable_reads=cacheable)
