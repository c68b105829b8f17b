"""CloudTrail records (eventVersion 1.10) built from what the pipeline saw.

One record per AWS request, allowed or denied, plus AssumeRole records for credentials that
EC2 delivers through IMDS. Secrets never enter a record: secret keys and session tokens are
redacted from request parameters and response elements.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Mapping

import orjson

from keyless.auth.principals import Caller
from keyless.ids import request_id

EVENT_VERSION = "1.10"
_REDACTED_KEYS = {"secretAccessKey", "sessionToken", "secretKey", "password", "privateKey"}
_READ_PREFIXES = ("Get", "List", "Describe", "Head", "Lookup", "Simulate", "Select")
# S3 object-level calls are data events; CloudTrail's event history (LookupEvents) omits them.
S3_DATA_EVENTS = frozenset({
    "GetObject", "PutObject", "DeleteObject", "DeleteObjects", "HeadObject", "CopyObject", "ListObjects",
    "ListObjectsV2", "HeadBucket", "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
    "CompleteMultipartUpload", "AbortMultipartUpload", "ListParts", "ListMultipartUploads",
    "GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging", "GetObjectAttributes",
})


@dataclass(frozen=True)
class Decided:
    """One authorization decision taken for the request, for the trail's `why` (plain data)."""

    action: str
    resource: str
    result: str  # allowed | explicitDeny | implicitDeny
    reason: str


def decided(action: str, resource: str, decision: Any) -> tuple[str, str, str, str]:
    """A decision as plain text: (action, resource, result, reason)."""
    if decision.allowed:  # the cheap answer; the full explanation re-walks policies, so only denials get it
        return _allowed(action, resource, decision.result, decision.statements)
    return action, resource, decision.result, str(decision.explanation)


@lru_cache(maxsize=4096)  # one tuple for a decision that repeats: the trail's pickle sends it once per batch
def _allowed(action: str, resource: str, result: str, statements: tuple[Any, ...]) -> tuple[str, str, str, str]:
    sources = sorted({s.policy.policy_id or s.policy.name for s in statements})
    return action, resource, result, f"allowed by {', '.join(sources)}" if sources else "allowed"


@dataclass
class ApiCall:
    """What the pipeline hands the recorder after a request (built cheaply; shaped later, off the hot path)."""

    time: float
    service: str
    operation: str
    region: str
    account: str
    request_id: str
    caller: dict[str, Any]  # _SNAPSHOT_FIELDS -> values: plain, secret-free
    source_ip: str
    user_agent: str
    params: Mapping[str, Any]
    output: Mapping[str, Any] | None
    error_code: str | None = None
    error_message: str | None = None
    decisions: list[Decided] = field(default_factory=list)
    enforce: str = "on"


def pending_call(time: float, service: str, operation: str, region: str, account: str, request_id: str, caller: Caller,
                 req: Any, params: Mapping[str, Any] | None, output: Mapping[str, Any] | None, error: Any,
                 decisions: tuple[tuple[str, str, str, str], ...], enforce: str) -> tuple[Any, ...]:
    """What the request path queues for the recorder: the call's fields in _CALL_FIELDS order, as
    strings, numbers, tuples and the request's own dicts, redacted and stored by the writer process.
    Plain values keep the queue out of the garbage collector's way (tuples of atoms are untracked
    at its first pass)."""
    return (time, service, operation, region, account, request_id, _snapshot_values(caller),
            req.client_ip, _shared_text(req.header("user-agent") or ""), params or {},
            output if error is None and not is_read_only(operation) else None,
            error.code if error is not None else None, error.message if error is not None else None,
            decisions, enforce)


def _shared_text(text: str) -> str:
    """One object per distinct value: a batch pickles a repeated user agent once (each request
    decodes its own copy, and pickling a fresh copy per event doubled the feeder's work)."""
    shared = _texts.get(text)
    if shared is None:
        if len(_texts) >= 1024:
            _texts.clear()
        shared = _texts[text] = text
    return shared


_texts: dict[str, str] = {}


_CALL_FIELDS = ("time", "service", "operation", "region", "account", "request_id", "caller", "source_ip", "user_agent",
                "params", "output", "error_code", "error_message", "decisions", "enforce")


def call_from_json(text: str | list[Any]) -> ApiCall:
    values = dict(zip(_CALL_FIELDS, json.loads(text) if isinstance(text, str) else text))
    values["decisions"] = [Decided(*d) for d in values["decisions"]]
    if isinstance(values["caller"], list):  # stored as the snapshot's values, in _SNAPSHOT_FIELDS order
        values["caller"] = dict(zip(_SNAPSHOT_FIELDS, values["caller"]))
    return ApiCall(**values)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%b %d, %Y, %I:%M:%S %p")
    return str(value)


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_json_default)  # one encoder: json.dumps builds one per call


def to_json(stored: Any) -> str:
    """Stored calls as JSON (tuples become arrays, datetimes CloudTrail's text)."""
    try:
        return orjson.dumps(stored, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()
    except TypeError:  # what orjson refuses (an integer over 64 bits, a key that is not a string)
        return _ENCODER.encode(stored)


def is_read_only(operation: str) -> bool:
    return operation.startswith(_READ_PREFIXES)


def category(service: str, operation: str) -> str:
    return "Data" if service == "s3" and operation in S3_DATA_EVENTS else "Management"


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(iso_time: str) -> float:
    """CloudTrail's eventTime back to epoch seconds."""
    return datetime.strptime(iso_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


_SNAPSHOT_FIELDS = ("type", "account", "arn", "user_id", "principal_arn", "username", "access_key_id", "owner_id",
                    "issued_at", "mfa", "source_identity", "role_delivery")


def _snapshot_values(caller: Caller) -> tuple[Any, ...]:
    """What the trail keeps of a caller, in _SNAPSHOT_FIELDS order: never its secret or token.

    The authenticator hands out one Caller per key or session, so the snapshot is kept with it:
    calls of one caller then share one tuple, which the trail's pickle sends once per batch."""
    hit = _snapshots.get(id(caller))
    if hit is not None and hit[0] is caller:
        return hit[1]
    if len(_snapshots) > 10_000:
        _snapshots.clear()
    snapshot = _snapshot_of(caller)
    _snapshots[id(caller)] = (caller, snapshot)  # the Caller is held, so its id cannot be reused meanwhile
    return snapshot


_snapshots: dict[int, tuple[Caller, tuple[Any, ...]]] = {}


def _snapshot_of(caller: Caller) -> tuple[Any, ...]:
    base = (caller.type, caller.account, caller.arn, caller.user_id, caller.principal_arn, caller.username,
            caller.access_key_id, caller.owner_id)
    claims = caller.session
    if claims is None:
        return base
    return base + (claims.issued_at, bool(claims.mfa), claims.source_identity, (claims.ec2 or {}).get("ec2:RoleDelivery"))


def user_identity(caller: dict[str, Any]) -> dict[str, Any]:
    if caller["type"] == "Anonymous":
        return {"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}
    session = "issued_at" in caller
    if caller["type"] == "AssumedRole":
        identity: dict[str, Any] = {
            "type": "AssumedRole", "principalId": caller["user_id"], "arn": caller["arn"], "accountId": caller["account"],
            "accessKeyId": caller["access_key_id"] or "",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": caller["owner_id"] or "", "arn": caller["principal_arn"],
                                  "accountId": caller["account"],
                                  "userName": (caller["principal_arn"] or "").rsplit("/", 1)[-1]},
                "webIdFederationData": {},
                "attributes": {"creationDate": iso(caller["issued_at"]) if session else "",
                               "mfaAuthenticated": "true" if caller.get("mfa") else "false"},
            },
        }
        if caller.get("role_delivery"):
            identity["sessionContext"]["ec2RoleDelivery"] = caller["role_delivery"]
        if caller.get("source_identity"):
            identity["sessionContext"]["sourceIdentity"] = caller["source_identity"]
        return identity
    identity = {"type": "Root" if caller["type"] == "Root" else "IAMUser", "principalId": caller["user_id"],
                "arn": caller["arn"], "accountId": caller["account"], "accessKeyId": caller["access_key_id"] or ""}
    if caller["username"]:
        identity["userName"] = caller["username"]
    if session:
        identity["sessionContext"] = {"attributes": {"creationDate": iso(caller["issued_at"]), "mfaAuthenticated": "false"}}
    return identity


_PLAIN = (str, int, float, bool, type(None), datetime)


_SECRET_MEMBERS = frozenset({"SecretAccessKey", "SessionToken", "Password", "NewPassword", "OldPassword",
                             "PrivateKey", "SecretKey", "Token"})
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


def plain(value: Any) -> Any:
    """A copy of request/response data fit to store: secrets hidden, no streams, no bytes."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (dict, Mapping)):  # dict first: the ABC check alone costs microseconds
        return {k: HIDDEN if k in _SECRET_MEMBERS else plain(v)
                for k, v in value.items() if isinstance(v, (_PLAIN, Mapping, list, tuple))}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value if isinstance(v, (_PLAIN, Mapping, list, tuple))]
    return None


def camel(value: Any) -> Any:
    """botocore member names -> CloudTrail's camelCase, recursively, with secrets redacted."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            name = key[:1].lower() + key[1:]
            if name in _REDACTED_KEYS:
                out[name] = HIDDEN
            elif name == "body":
                continue
            else:
                out[name] = camel(item)
        return out
    if isinstance(value, (list, tuple)):
        return [camel(v) for v in value]
    if isinstance(value, datetime):
        return value.strftime("%b %d, %Y, %I:%M:%S %p")
    if isinstance(value, (bytes, bytearray)) or hasattr(value, "__aiter__"):
        return None
    return value


def record(call: ApiCall) -> dict[str, Any]:
    """The CloudTrail record for one API call."""
    rec: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(call.caller),
        "eventTime": iso(call.time),
        "eventSource": f"{call.service}.amazonaws.com",
        "eventName": call.operation,
        "awsRegion": call.region,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.user_agent[:1024],
        "requestParameters": camel(call.params) or None,
        "responseElements": None if is_read_only(call.operation) or call.output is None else camel(call.output) or None,
        "requestID": call.request_id,
        "eventID": request_id(),
        "readOnly": is_read_only(call.operation),
        "eventType": "AwsApiCall",
        "managementEvent": category(call.service, call.operation) == "Management",
        "recipientAccountId": call.account,
        "eventCategory": category(call.service, call.operation),
    }
    resources = resources_of(call.decisions, call.account)
    if resources:
        rec["resources"] = resources
    if call.error_code:
        rec["errorCode"] = f"Client.{call.error_code}" if call.service == "ec2" else call.error_code
        rec["errorMessage"] = (call.error_message or "")[:1024]
    # keyless's own annotations (not in AWS's records): the decisions and the enforcement mode.
    rec["keyless"] = {"enforce": call.enforce,
                      "decisions": [{"action": d.action, "resource": d.resource, "result": d.result, "reason": d.reason}
                                    for d in call.decisions]}
    return rec


_RESOURCE_TYPES = {
    ("iam", "role"): "AWS::IAM::Role", ("iam", "user"): "AWS::IAM::User", ("iam", "policy"): "AWS::IAM::Policy",
    ("iam", "instance-profile"): "AWS::IAM::InstanceProfile", ("ec2", "instance"): "AWS::EC2::Instance",
}


def resources_of(decisions: list[Decided], account: str) -> list[dict[str, str]]:
    return resources_named([d.resource for d in decisions], account)


def resources_named(arns: list[str], account: str) -> list[dict[str, str]]:
    """CloudTrail's `resources` entries for the ARNs a call was decided on."""
    out: list[dict[str, str]] = []
    for arn in arns:
        kind = _resource_type(arn)
        if kind is None:
            continue
        item = {"accountId": account, "type": kind, "ARN": arn}
        if item not in out:
            out.append(item)
    return out


@lru_cache(maxsize=4096)  # the same few ARNs come back call after call
def _resource_type(arn: str) -> str | None:
    if arn == "*" or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    service, rest = parts[2], parts[5] if len(parts) > 5 else ""
    if service == "s3":
        return "AWS::S3::Object" if "/" in rest else "AWS::S3::Bucket"
    return _RESOURCE_TYPES.get((service, rest.split("/", 1)[0]), f"AWS::{service.upper()}::Resource")


def ec2_credential_delivery(*, time: float, region: str, account: str, role_arn: str, instance_id: str,
                            access_key_id: str, expiration: float, assumed_role_id: str, session_arn: str) -> dict[str, Any]:
    """The AssumeRole record CloudTrail shows when EC2 delivers role credentials to an instance."""
    return {
        "eventVersion": EVENT_VERSION,
        "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
        "eventTime": iso(time), "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
        "awsRegion": region, "sourceIPAddress": "ec2.amazonaws.com", "userAgent": "ec2.amazonaws.com",
        "requestParameters": {"roleArn": role_arn, "roleSessionName": instance_id},
        "responseElements": {
            "credentials": {"accessKeyId": access_key_id, "sessionToken": "HIDDEN_DUE_TO_SECURITY_REASONS",
                            "expiration": datetime.fromtimestamp(expiration, tz=timezone.utc).strftime("%b %d, %Y, %I:%M:%S %p")},
            "assumedRoleUser": {"assumedRoleId": assumed_role_id, "arn": session_arn},
        },
        "requestID": request_id(), "eventID": request_id(), "readOnly": True,
        "resources": [{"accountId": account, "type": "AWS::IAM::Role", "ARN": role_arn}],
        "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": account,
        "sharedEventID": request_id(), "eventCategory": "Management",
    }
