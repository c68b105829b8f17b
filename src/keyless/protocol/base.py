"""The Protocol interface every wire format implements, and what they share.

    parse(op, req)          = decode(op, req)            protocol-specific, raises BadValue
                              -> violations(input, params)  keyless.protocol.validate
                              -> validation_error(...)      protocol-specific wording
    serialize_error(e, id)  = auth_error_for(name, e)      the protocol's own auth names
                              -> render_error(...)          protocol-specific envelope
"""

from __future__ import annotations

import copy
import re
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from botocore.model import OperationModel, OperationNotFoundError, ServiceModel

from keyless.errors import AwsError
from keyless.protocol.autherrors import auth_error_for
from keyless.protocol.http import HttpRequest, HttpResponse
from keyless.protocol.models import OperationPlan, ShapeCompiler
from keyless.protocol.validate import Violation, violations
from keyless.protocol.values import BadValue


# Characters XML 1.0 cannot carry even as character references. An error that echoes one back
# (a NUL in a name, say) must still parse, so its text shows U+FFFD there instead.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _printable(error: AwsError) -> AwsError:
    fields = {k: _NOT_XML.sub("\ufffd", v) if isinstance(v, str) else v for k, v in error.fields.items()}
    if not _NOT_XML.search(error.message) and fields == error.fields:
        return error
    shown = copy.copy(error)  # subclasses may take other constructor arguments
    shown.message, shown.fields = _NOT_XML.sub("\ufffd", error.message), fields
    return shown


class Protocol(ABC):
    """One service's wire format. Instances are cached per service (see protocol_for)."""

    name: ClassVar[str]  # botocore protocol name: query, ec2, json, rest-xml
    check_enums: ClassVar[bool] = True  # whether model enum sets are enforced by the wire layer
    # Whether a request's whole input is its method, path, query string, content type and body
    # (no input in other headers): then those bytes can stand for the parsed input.
    form_input: ClassVar[bool] = False

    def __init__(self, service_model: ServiceModel) -> None:
        self.service_model = service_model
        self._compiler = ShapeCompiler()
        self._plans: dict[str, OperationPlan] = {}
        self._operations: dict[str, OperationModel | None] = {}

    # --- operations ---------------------------------------------------------------------------

    def operation(self, name: str) -> OperationModel | None:
        """The named operation, or None (cached, including misses)."""
        if name in self._operations:
            return self._operations[name]
        try:
            op: OperationModel | None = self.service_model.operation_model(name)
        except OperationNotFoundError:
            op = None
        if op is not None or len(self._operations) < 4096:  # garbage names must not grow the cache forever
            self._operations[name] = op
        return op

    def plan(self, op: OperationModel) -> OperationPlan:
        plan = self._plans.get(op.name)
        if plan is None:
            plan = OperationPlan(op, self._compiler.compile(op.input_shape), self._compiler.compile(op.output_shape))
            self.prepare(plan)
            self._plans[op.name] = plan
        return plan

    def prepare(self, plan: OperationPlan) -> None:
        """Hook: compute protocol-specific per-operation facts into plan.extra."""

    @abstractmethod
    def match_operation(self, req: HttpRequest) -> OperationModel: ...

    def operation_needs_stream(self, op: OperationModel) -> bool:
        return False

    # --- requests -----------------------------------------------------------------------------

    def parse(self, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
        """The operation's input as a dict shaped like its input shape, checked against the model."""
        plan = self.plan(op)
        try:
            params = self.decode(plan, req)
        except BadValue as exc:
            raise self.bad_value_error(plan, exc) from None
        except RecursionError:  # a document nested deeper than any sane input (recursive shapes)
            raise self.bad_value_error(plan, BadValue("...", "document of reasonable depth")) from None
        found = violations(plan.input, params, enums=self.check_enums)
        if found:
            raise self.validation_error(plan, found)
        return params

    @abstractmethod
    def decode(self, plan: OperationPlan, req: HttpRequest) -> dict[str, Any]: ...

    @abstractmethod
    def validation_error(self, plan: OperationPlan, found: list[Violation]) -> AwsError: ...

    @abstractmethod
    def bad_value_error(self, plan: OperationPlan, exc: BadValue) -> AwsError: ...

    # --- responses ----------------------------------------------------------------------------

    @abstractmethod
    def serialize(self, op: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse: ...

    def serialize_error(self, error: AwsError, request_id: str, *, method: str | None = None) -> HttpResponse:
        """The error in this protocol's envelope, under this protocol's name for auth errors.
        `method="HEAD"` leaves the body out, as AWS does."""
        shown = _printable(auth_error_for(self.name, error))
        response = self.render_error(shown, request_id)
        if method == "HEAD":
            response.body = b""
        return response

    @abstractmethod
    def render_error(self, error: AwsError, request_id: str) -> HttpResponse: ...
