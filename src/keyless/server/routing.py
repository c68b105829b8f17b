"""Which AWS service a request is for, on a single port.

Signed requests name their service in the credential scope. Unsigned ones are told apart by
shape: JSON services by X-Amz-Target, query services by the API Version in the form, and
anything else is S3 (which alone serves anonymous REST requests).
"""

from __future__ import annotations

from keyless.protocol.http import HttpRequest

# Query-protocol API versions -> service.
_QUERY_VERSIONS = {"2010-05-08": "iam", "2011-06-15": "sts", "2016-11-15": "ec2"}
_TARGET_PREFIXES = {"CloudTrail_20131101": "cloudtrail", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101": "cloudtrail"}


def service_from_signature(req: HttpRequest) -> str | None:
    auth = req.header("authorization")
    if auth and "Credential=" in auth:
        return _scope_service(auth.split("Credential=", 1)[1])
    if "X-Amz-Credential=" in req.query_string:
        cred = req.query_param("X-Amz-Credential")
        if cred:
            return _scope_service(cred)
    return None


def _scope_service(credential: str) -> str | None:
    # AKID/DATE/REGION/SERVICE/aws4_request
    parts = credential.split(",", 1)[0].strip().split("/")
    return parts[3] if len(parts) >= 5 else None


def service_from_shape(req: HttpRequest, form: dict[str, str] | None) -> str:
    target = req.header("x-amz-target")
    if target:
        return _TARGET_PREFIXES.get(target.split(".", 1)[0] if "." in target else target, "unknown")
    if form is not None and "Action" in form:
        return _QUERY_VERSIONS.get(form.get("Version", ""), "unknown")
    return "s3"


def is_form(req: HttpRequest) -> bool:
    ctype = req.header("content-type") or ""
    return req.method == "POST" and ctype.startswith("application/x-www-form-urlencoded")
