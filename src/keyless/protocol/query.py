"""The query protocol (IAM, STS) and its EC2 variant.

Requests: form parameters (body or query string) with Action and Version, read by FormReader.
Responses:

    query  <GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
             <GetRoleResult>...</GetRoleResult>          (the output's resultWrapper)
             <ResponseMetadata><RequestId>..</RequestId></ResponseMetadata>
           </GetRoleResponse>
           <ErrorResponse xmlns=..><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>
    ec2    <DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
             <requestId>..</requestId> members by locationName, list items as <item>
           </DescribeInstancesResponse>
           <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>
"""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel, ServiceModel

from keyless.errors import AwsError, InvalidAction, InvalidParameterValue, MissingParameter, ValidationError
from keyless.protocol.base import Protocol
from keyless.protocol.errors import MissingAction, UnknownParameter
from keyless.protocol.form import FormReader, build_tree, form_params
from keyless.protocol.http import HttpRequest, HttpResponse
from keyless.protocol.models import Node, OperationPlan
from keyless.protocol.validate import Violation, coral_message, lower_camel, render_value
from keyless.protocol.values import BadValue
from keyless.protocol.xmlwrite import XmlWriter, escape

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


class QueryProtocol(Protocol):
    name = "query"
    form_input = True
    reader = FormReader(ec2=False)
    writer = XmlWriter(list_item="member")
    content_type = "text/xml"

    def __init__(self, service_model: ServiceModel) -> None:
        super().__init__(service_model)
        self.namespace = self._namespace(service_model)
        self.version = service_model.api_version

    @staticmethod
    def _namespace(service_model: ServiceModel) -> str:
        return str(service_model.metadata.get("xmlNamespace", ""))

    # --- requests -----------------------------------------------------------------------------

    def match_operation(self, req: HttpRequest) -> OperationModel:
        action = form_params(req).get("Action")
        if not action:
            raise MissingAction("The request must contain the parameter Action.")
        op = self.operation(action)
        if op is None:
            raise self.unknown_action(action)
        return op

    def unknown_action(self, action: str) -> AwsError:
        return InvalidAction(f"Could not find operation {action} for version {self.version}")

    def decode(self, plan: OperationPlan, req: HttpRequest) -> dict[str, Any]:
        if plan.input is None:
            return {}
        return self.reader.structure(plan.input, build_tree(form_params(req)))

    def validation_error(self, plan: OperationPlan, found: list[Violation]) -> AwsError:
        return ValidationError(coral_message(found))

    def bad_value_error(self, plan: OperationPlan, exc: BadValue) -> AwsError:
        found = Violation(tuple(exc.path), exc.value, f"Member must be of type {exc.expected}", "type")
        return ValidationError(coral_message([found]))

    # --- responses ----------------------------------------------------------------------------

    def serialize(self, op: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        node = self.plan(op).output
        out = [f'<{op.name}Response xmlns="{self.namespace}">']
        if node is not None:
            wrapper = node.result_wrapper
            if wrapper:
                out.append(f"<{wrapper}>")
            self.writer.members(node, output or {}, out)
            if wrapper:
                out.append(f"</{wrapper}>")
        out.append(f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>"
                   f"</{op.name}Response>")
        return self._response(200, out, request_id)

    def render_error(self, error: AwsError, request_id: str) -> HttpResponse:
        kind = "Sender" if error.sender_fault else "Receiver"
        out = [f'<ErrorResponse xmlns="{self.namespace}"><Error><Type>{kind}</Type>',
               f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>",
               *_fields(error), f"</Error><RequestId>{escape(request_id)}</RequestId></ErrorResponse>"]
        return self._response(error.status, out, request_id)

    def _response(self, status: int, parts: list[str], request_id: str) -> HttpResponse:
        headers = [("content-type", self.content_type), ("x-amzn-requestid", request_id)]
        return HttpResponse(status, headers, "".join(parts).encode("utf-8"))


def _fields(error: AwsError) -> list[str]:
    return [f"<{name}>{escape(str(value))}</{name}>" for name, value in error.fields.items() if value is not None]


class Ec2Protocol(QueryProtocol):
    name = "ec2"
    reader = FormReader(ec2=True)
    writer = XmlWriter(list_item="item")
    content_type = "text/xml;charset=UTF-8"
    # Parameters any request may carry besides the operation's own (auth, presigning).
    ENVELOPE = frozenset({"Action", "Version", "AWSAccessKeyId", "Signature", "SignatureMethod", "SignatureVersion",
                          "Timestamp", "Expires", "SecurityToken"})

    @staticmethod
    def _namespace(service_model: ServiceModel) -> str:
        # The model says ".../2016-11-15"; EC2 answers with ".../2016-11-15/".
        namespace = str(service_model.metadata.get("xmlNamespace", ""))
        return namespace if namespace.endswith("/") else namespace + "/"

    def unknown_action(self, action: str) -> AwsError:
        return InvalidAction(f"The action {action} is not valid for this web service.")

    def decode(self, plan: OperationPlan, req: HttpRequest) -> dict[str, Any]:
        tree = build_tree(form_params(req))
        known = self.reader.wire_table(plan.input) if plan.input is not None else {}
        for name in tree:
            if name not in known and name not in self.ENVELOPE and not name.startswith("X-Amz-"):
                raise UnknownParameter(f"The parameter {name} is not recognized")
        if plan.input is None:
            return {}
        return self.reader.structure(plan.input, tree)

    def validation_error(self, plan: OperationPlan, found: list[Violation]) -> AwsError:
        first = found[0]  # EC2 reports one problem at a time
        if first.kind == "required":
            return MissingParameter(f"The request must contain the parameter {self.wire_path(plan.input, first.path)}")
        return InvalidParameterValue(
            f"Value ({render_value(first.value)}) for parameter {_dotted(first.path)} is invalid. {first.constraint}")

    def bad_value_error(self, plan: OperationPlan, exc: BadValue) -> AwsError:
        return InvalidParameterValue(
            f"Value ({render_value(exc.value)}) for parameter {_dotted(tuple(exc.path))} is invalid. "
            f"Expected a {exc.expected}.")

    def wire_path(self, node: Node | None, path: tuple[str | int, ...]) -> str:
        """A member path as the client sent it: Filter.1.Name."""
        parts: list[str] = []
        for part in path:
            if isinstance(part, int):
                parts.append(str(part))
                node = node.member if node is not None else None
            elif part != "member" and node is not None and part in node.members:
                child = node.members[part]
                parts.append(self.reader.wire_name(part, child))
                node = child
        return ".".join(parts)

    def serialize(self, op: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        node = self.plan(op).output
        out = [XML_DECLARATION, f'<{op.name}Response xmlns="{self.namespace}"><requestId>{escape(request_id)}</requestId>']
        if node is not None:
            self.writer.members(node, output or {}, out)
        out.append(f"</{op.name}Response>")
        return self._response(200, out, request_id)

    def render_error(self, error: AwsError, request_id: str) -> HttpResponse:
        out = [XML_DECLARATION, "<Response><Errors><Error>",
               f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>", *_fields(error),
               f"</Error></Errors><RequestID>{escape(request_id)}</RequestID></Response>"]
        return self._response(error.status, out, request_id)


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) if isinstance(p, int) else lower_camel(p) for p in path if p != "member")
