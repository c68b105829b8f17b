"""keyless.protocol: AWS wire formats, generic over botocore's service models.

No operation has code here: a model's shapes say every name, location and type, and one class
per protocol walks them (botocore's serialize.py and parsers.py, in reverse).

    protocol_for("iam") ──▶ PROTOCOLS[model.protocol](model)   one instance per service, cached

                              Protocol (base.py)
          match_operation(req) · parse(op, req) · serialize(op, output, id) · serialize_error(e, id)
                 ┌──────────────────┬─────────┴──────────┬───────────────────────┐
          QueryProtocol      Ec2Protocol           JsonProtocol            RestXmlProtocol
          (query.py)         (query.py)            (jsonrpc.py)            (restxml.py)
          IAM, STS           EC2                   CloudTrail, DynamoDB    S3
             │                   │                       │                 ├─ Router (routes.py)
        FormReader (form.py) ────┘              json body <-> Node         ├─ uri/query/headers (locations.py)
             │                                                             ├─ XmlReader (xmlread.py)
        XmlWriter (xmlwrite.py) ◀──────────────────────────────────────────┴─ XmlWriter

    Request flow   HttpRequest ─match_operation─▶ OperationModel ─plan()─▶ OperationPlan (cached:
                   compiled input/output Nodes, member tables)  ─decode─▶ params
                   ─validate.violations─▶ params | the service's validation error
                   (the form is decoded once and kept on the request; so is the rest-xml route)
    Response flow  output dict ─serialize─▶ HttpResponse;  AwsError ─autherrors─▶ protocol's own
                   name/status ─render_error─▶ HttpResponse

    Handlers get params shaped like the input shape (ints, bools, aware UTC datetimes, bytes for
    blobs, lists, dicts; S3 streaming bodies as the unread req.stream) and return a dict shaped like
    the output shape: timestamps as datetimes, epoch numbers or ISO strings; S3 payloads as bytes,
    str or an async byte iterator; output["ResponseMetadata"]["HTTPStatusCode"] overrides a REST
    status (206). Members the shape does not have are ignored.

    models.py     botocore Shape -> Node (compiled once; Java regexes translated)
    values.py     timestamps, booleans, numbers, blobs on the wire
    validate.py   required / enum / length / range / pattern, AWS's sentence
    autherrors.py cross-service auth errors renamed per protocol (AUTH_ERRORS, auth_error_for)
    errors.py     errors the wire layer raises itself (MalformedXML, SerializationException, ...)
"""

from __future__ import annotations

from functools import lru_cache

from keyless.protocol.autherrors import AUTH_ERRORS, auth_error_for
from keyless.protocol.base import Protocol
from keyless.protocol.jsonrpc import JsonProtocol
from keyless.protocol.models import load_service_model
from keyless.protocol.query import Ec2Protocol, QueryProtocol
from keyless.protocol.restxml import RestXmlProtocol

PROTOCOLS: dict[str, type[Protocol]] = {
    "query": QueryProtocol,
    "ec2": Ec2Protocol,
    "json": JsonProtocol,
    "rest-xml": RestXmlProtocol,
}


@lru_cache(maxsize=None)
def protocol_for(service_name: str) -> Protocol:
    """The protocol object for a botocore service name ("iam", "sts", "ec2", "s3", "cloudtrail")."""
    model = load_service_model(service_name)
    return PROTOCOLS[model.protocol](model)


__all__ = ["AUTH_ERRORS", "PROTOCOLS", "Protocol", "auth_error_for", "protocol_for"]
