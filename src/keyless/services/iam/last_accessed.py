"""GenerateServiceLastAccessedDetails / GetServiceLastAccessedDetails, from keyless's own trail.

AWS runs the report as an asynchronous job; keyless computes it at Generate time (after flushing
the trail, so the calls just made count) and keeps it under its JobId for the Get calls.
"""

from __future__ import annotations

import uuid
from typing import Any

from keyless.services.base import RequestContext
from keyless.services.iam.errors import NoSuchEntity
from keyless.trail.last_accessed import details_response, report

_JOBS = "iam-last-accessed-jobs"
_MAX_JOBS = 1000


def generate_service_last_accessed_details(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    arn, granularity = params["Arn"], params.get("Granularity", "SERVICE_LEVEL")
    recorder = ctx.state.components.get("trail")
    if recorder is not None:
        recorder.flush()
    created = ctx.state.clock.time()
    with ctx.state.db.read() as conn:
        services = report(conn, arn, granularity)
    if services is None:
        raise NoSuchEntity(f"The entity {arn} cannot be found.")
    jobs: dict[str, tuple[str, list[dict[str, Any]], float, float]] = ctx.state.components.setdefault(_JOBS, {})
    if len(jobs) >= _MAX_JOBS:
        jobs.pop(next(iter(jobs)))
    job_id = str(uuid.uuid4())
    jobs[job_id] = (granularity, services, created, ctx.state.clock.time())
    return {"JobId": job_id}


def get_service_last_accessed_details(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    job = ctx.state.components.get(_JOBS, {}).get(params["JobId"])
    if job is None:
        raise NoSuchEntity(f"No such job: {params['JobId']}")
    granularity, services, created, completed = job
    return details_response(services, granularity=granularity, created=created, completed=completed,
                            marker=params.get("Marker"), max_items=params.get("MaxItems"))
