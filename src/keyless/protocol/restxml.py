"""The rest-xml protocol (S3): operations from method + path + query, input from URI labels,
query parameters, headers and an XML (or raw) payload; output as status, headers and body.

    input   uri labels       percent-decoded; {Key+} may hold "/"
            querystring      scalars, lists (repeated keys), maps (every unclaimed parameter)
            header/headers   lower-case names; "headers" is a prefix map (x-amz-meta-*)
            payload          XML structure (root = the member's locationName), raw string/blob,
                             or the request stream for streaming blobs (req.stream, unread)
    output  statusCode member, or output["ResponseMetadata"]["HTTPStatusCode"], else 200
            (204 for DELETE in S3, see SUCCESS_STATUS); header members (RFC 1123 timestamps),
            prefix maps; payload bytes/str/async iterator passed through, or an XML document
    errors  <Error><Code/><Message/>fields...<RequestId/><HostId/></Error>, no body on 304/HEAD
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel

from keyless.errors import AwsError
from keyless.protocol.base import Protocol
from keyless.protocol.errors import (
    MALFORMED_XML,
    InvalidArgument,
    InvalidRequest,
    MalformedXML,
    MissingRequestBodyError,
)
from keyless.protocol.http import HttpRequest, HttpResponse
from keyless.protocol.models import Node, OperationPlan
from keyless.protocol.locations import (
    argument_value,
    by_location,
    groups_have_body,
    header_value,
    payload_member,
    query_map,
    write_headers,
)
from keyless.protocol.routes import Router
from keyless.protocol.validate import Violation, render_value
from keyless.protocol.values import BadValue
from keyless.protocol.xmlread import XmlReader, local_name, parse_document
from keyless.protocol.xmlwrite import XmlWriter, escape, namespace_attr

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'

# --- quirks, with the reason -------------------------------------------------------------------

# S3 documents carry this namespace; the botocore model does not say so.
DEFAULT_NAMESPACE = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}

# Root element names of S3 outputs without a payload member. botocore's model drops Smithy's
# @xmlName on output structures; these are the names S3 sends (AWS SDK Smithy models).
ROOT_NAMES = {
    "s3": {
        "ListBuckets": "ListAllMyBucketsResult", "ListDirectoryBuckets": "ListAllMyDirectoryBucketsResult",
        "ListObjects": "ListBucketResult", "ListObjectsV2": "ListBucketResult",
        "ListObjectVersions": "ListVersionsResult", "ListMultipartUploads": "ListMultipartUploadsResult",
        "ListParts": "ListPartsResult", "CreateMultipartUpload": "InitiateMultipartUploadResult",
        "CompleteMultipartUpload": "CompleteMultipartUploadResult", "DeleteObjects": "DeleteResult",
        "GetObjectTagging": "Tagging", "GetBucketTagging": "Tagging", "GetBucketAcl": "AccessControlPolicy",
        "GetObjectAcl": "AccessControlPolicy", "GetBucketVersioning": "VersioningConfiguration",
        "GetBucketCors": "CORSConfiguration", "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
        "GetBucketLogging": "BucketLoggingStatus", "GetBucketWebsite": "WebsiteConfiguration",
        "GetBucketRequestPayment": "RequestPaymentConfiguration",
        "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
        "GetBucketNotificationConfiguration": "NotificationConfiguration",
        "GetBucketNotification": "NotificationConfiguration", "GetBucketLifecycle": "LifecycleConfiguration",
        "GetObjectAttributes": "GetObjectAttributesResponse", "CreateSession": "CreateSessionResult",
    },
}

# GetBucketLocation answers <LocationConstraint>eu-west-1</LocationConstraint>: the one member
# is the root (botocore's parse_get_bucket_location handler reads it that way).
MEMBER_IS_ROOT = {"s3": {"GetBucketLocation": "LocationConstraint"}}

# S3 answers every successful DELETE with 204 No Content.
SUCCESS_STATUS = {"s3": {"DELETE": 204}}


class RestXmlProtocol(Protocol):
    name = "rest-xml"
    # S3 names its own errors for bad enum values (InvalidLocationConstraint, InvalidStorageClass,
    # InvalidArgument for a canned ACL); its handlers check them.
    check_enums = False
    reader = XmlReader()
    writer = XmlWriter(list_item="member")

    def __init__(self, service_model: ServiceModel) -> None:
        super().__init__(service_model)
        service = service_model.service_name
        self.router = Router(service_model)
        self.namespace = service_model.metadata.get("xmlNamespace") or DEFAULT_NAMESPACE.get(service, "")
        self.root_names = ROOT_NAMES.get(service, {})
        self.member_is_root = MEMBER_IS_ROOT.get(service, {})
        self.success_status = SUCCESS_STATUS.get(service, {})
        self.is_s3 = service == "s3"

    # --- routing ------------------------------------------------------------------------------

    def match_operation(self, req: HttpRequest) -> OperationModel:
        name, labels = self.router.match(req.method, self.effective_path(req), query_map(req), req.header_map)
        req._route = (name, labels)
        op = self.operation(name)
        assert op is not None  # routes are built from the model's own operations
        return op

    def effective_path(self, req: HttpRequest) -> str:
        """The raw path, with a virtual-hosted bucket (bucket.localhost:5397) moved into it."""
        if self.is_s3:
            bucket = virtual_host_bucket(req.header("host") or "")
            if bucket:
                return "/" + bucket + (req.raw_path if req.raw_path.startswith("/") else "/" + req.raw_path)
        return req.raw_path or "/"

    def operation_needs_stream(self, op: OperationModel) -> bool:
        payload = self.plan(op).extra.get("payload")
        return payload is not None and payload[1].streaming

    def prepare(self, plan: OperationPlan) -> None:
        plan.extra["payload"] = payload_member(plan.input)
        plan.extra["out_payload"] = payload_member(plan.output)
        plan.extra["in"] = groups = by_location(plan.input)
        plan.extra["out"] = by_location(plan.output)
        # Lookup tables keyed the way requests arrive: lower-case header names, query keys.
        plan.extra["in_headers"] = {(n.wire or name).lower(): (name, n) for name, n in groups["header"]}
        plan.extra["in_query"] = {n.wire or name: (name, n) for name, n in groups["querystring"] if n.type != "map"}
        plan.extra["in_query_maps"] = [(name, n) for name, n in groups["querystring"] if n.type == "map"]

    # --- requests -----------------------------------------------------------------------------

    def decode(self, plan: OperationPlan, req: HttpRequest) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if plan.input is None:
            return params
        groups = plan.extra["in"]
        route = req._route
        labels = route[1] if route and route[0] == plan.model.name else self.router.labels(
            plan.model.name, self.effective_path(req))
        for name, node in groups["uri"]:
            raw = labels.get(node.wire or name)
            if raw is not None:
                params[name] = argument_value(node, unquote(raw), node.wire or name)
        if groups["querystring"]:
            self._read_query(plan, query_map(req), params)
        header_table = plan.extra["in_headers"]
        if header_table:
            for key, raw in req.header_map.items():
                entry = header_table.get(key)
                if entry is not None:
                    name, node = entry
                    params[name] = header_value(node, raw, node.wire or name)
        for name, node in groups["headers"]:
            prefix = (node.wire or "").lower()
            found = {k[len(prefix):]: v for k, v in req.header_map.items() if k.startswith(prefix)}
            if found:
                params[name] = found
        self._read_body(plan, req, params)
        return params

    def _read_query(self, plan: OperationPlan, query: dict[str, list[str]], params: dict[str, Any]) -> None:
        table = plan.extra["in_query"]
        for key, values in query.items():
            entry = table.get(key)
            if entry is None:
                continue
            name, node = entry
            if node.type == "list":
                assert node.member is not None
                params[name] = [argument_value(node.member, v, key) for v in values]
            else:
                params[name] = argument_value(node, values[0], key)
        for name, _node in plan.extra["in_query_maps"]:  # every parameter no other member claims
            extra = {k: v[-1] for k, v in query.items() if k not in table}
            if extra:
                params[name] = extra

    def _read_body(self, plan: OperationPlan, req: HttpRequest, params: dict[str, Any]) -> None:
        payload = plan.extra["payload"]
        body = req.body
        if payload is None:
            if groups_have_body(plan.extra["in"]) and body.strip():
                params.update(self._xml(plan.input, body, None))
            return
        name, node = payload
        if node.streaming:
            params[name] = req.stream if req.stream is not None else body
        elif node.type == "blob":
            if body:
                params[name] = body
        elif node.type == "string":
            if body:
                try:
                    params[name] = body.decode("utf-8")
                except UnicodeDecodeError:
                    raise InvalidArgument("The request body is not valid UTF-8.") from None
        elif body.strip():
            params[name] = self._xml(node, body, node.wire or name)

    def _xml(self, node: Node | None, body: bytes, root_name: str | None) -> dict[str, Any]:
        root = parse_document(body)
        if node is None or (root_name is not None and local_name(root.tag) != root_name):
            raise MalformedXML(MALFORMED_XML)
        try:
            return self.reader.structure(node, root)
        except BadValue:
            raise MalformedXML(MALFORMED_XML) from None

    def validation_error(self, plan: OperationPlan, found: list[Violation]) -> AwsError:
        first = found[0]
        top = str(first.path[0]) if first.path else ""
        payload = plan.extra["payload"]
        node = plan.input.members.get(top) if plan.input is not None and top else None
        if payload is not None and top == payload[0] and len(first.path) == 1 and first.kind == "required":
            return MissingRequestBodyError("Request Body is empty")
        if node is None or node.location is None or len(first.path) > 1:
            return MalformedXML(MALFORMED_XML)
        wire = node.wire or top
        if node.location == "uri":
            return InvalidRequest(f"Invalid value for {wire}: {first.constraint}")
        value = None if first.value is None else render_value(first.value)
        return InvalidArgument(f"Invalid argument {wire}: {first.constraint}", ArgumentName=wire, ArgumentValue=value)

    def bad_value_error(self, plan: OperationPlan, exc: BadValue) -> AwsError:
        return MalformedXML(MALFORMED_XML)

    # --- responses ----------------------------------------------------------------------------

    def serialize(self, op: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        plan = self.plan(op)
        output = output or {}
        status = self.success_status.get(op.http.get("method", ""), 200)
        override = (output.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        status = int(override) if override else status
        headers = self._id_headers(request_id)
        node = plan.output
        body: Any = b""
        if node is not None:
            groups = plan.extra["out"]
            for name, member in groups["statusCode"]:
                if output.get(name) is not None:
                    status = int(output[name])
            write_headers(groups, output, headers)
            body = self._body(op, plan, output, headers)
        return HttpResponse(status, headers, body)

    def _body(self, op: OperationModel, plan: OperationPlan, output: dict[str, Any], headers: list[tuple[str, str]]) -> Any:
        node = plan.output
        assert node is not None
        payload = plan.extra["out_payload"]
        if payload is not None:
            name, member = payload
            value = output.get(name)
            if value is None:
                return b""
            if member.type == "structure":
                return self._document(member.wire or name, member, value, headers, member.xml_namespace)
            return value.encode("utf-8") if isinstance(value, str) else value
        root_member = self.member_is_root.get(op.name)
        if root_member is not None:
            headers.append(("content-type", "application/xml"))
            text = output.get(root_member)
            inner = escape(str(text)) if text is not None else ""
            return (f'{XML_DECLARATION}\n<{root_member} xmlns="{self.namespace}">{inner}</{root_member}>').encode()
        if not groups_have_body(plan.extra["out"]):
            return b""
        root = self.root_names.get(op.name) or node.wire or f"{op.name}Result"
        return self._document(root, node, output, headers, node.xml_namespace)

    def _document(self, root: str, node: Node, value: dict[str, Any], headers: list[tuple[str, str]],
                  namespace: Any) -> bytes:
        headers.append(("content-type", "application/xml"))
        attrs = namespace_attr(namespace or self.namespace) + self.writer.attributes(node, value)
        out = [XML_DECLARATION, "\n", f"<{root}{attrs}>"]
        self.writer.members(node, value, out)
        out.append(f"</{root}>")
        return "".join(out).encode("utf-8")

    def _id_headers(self, request_id: str) -> list[tuple[str, str]]:
        if not self.is_s3:
            return [("x-amzn-requestid", request_id)]
        return [("x-amz-request-id", request_id), ("x-amz-id-2", host_id(request_id))]

    def render_error(self, error: AwsError, request_id: str) -> HttpResponse:
        headers = self._id_headers(request_id)
        if error.status == 304:  # Not Modified never has a body
            return HttpResponse(error.status, headers, b"")
        fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in error.fields.items() if v is not None)
        body = (f"{XML_DECLARATION}\n<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
                f"{fields}<RequestId>{escape(request_id)}</RequestId><HostId>{host_id(request_id)}</HostId></Error>")
        headers.append(("content-type", "application/xml"))
        return HttpResponse(error.status, headers, body.encode("utf-8"))


# --- helpers ---------------------------------------------------------------------------------------


def virtual_host_bucket(host: str) -> str | None:
    """bucket.localhost[:port] or bucket.s3[.region].amazonaws.com -> bucket."""
    if ".localhost" not in host and ".amazonaws.com" not in host:  # the usual case: 127.0.0.1:5397
        return None
    name = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else ""
    for suffix in (".localhost", ".s3.amazonaws.com"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    if ".s3." in name and name.endswith(".amazonaws.com"):
        return name.split(".s3.", 1)[0] or None
    return None


def host_id(request_id: str) -> str:
    """x-amz-id-2: an opaque id S3 pairs with the request id (derived, so it is stable)."""
    return base64.b64encode(hashlib.sha256(request_id.encode()).digest() * 2).decode()
