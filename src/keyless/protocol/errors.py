"""Errors the wire layer itself raises (before any handler runs), one class per AWS code.

    AwsError (keyless.errors)
     ├─ query / ec2: MissingAction 400, MalformedQueryString 404 (status as AWS's common-errors
     │               page gives it), UnknownParameter 400 (ec2)
     │               + keyless.errors: InvalidAction, ValidationError, InvalidParameterValue, MissingParameter
     ├─ json:        UnknownOperationException 400, SerializationException 400, ValidationException 400
     └─ rest-xml:    MalformedXML 400, MissingRequestBodyError 400, InvalidArgument 400, InvalidRequest 400,
                     MethodNotAllowed 405 (+ keyless.errors.NotImplementedOperation 501)

The S3 service declares MalformedXML/InvalidArgument too; the code string is what reaches the client.
"""

from __future__ import annotations

from keyless.errors import AwsError


class MissingAction(AwsError):
    code, status = "MissingAction", 400


class MalformedQueryString(AwsError):
    code, status = "MalformedQueryString", 404


class UnknownParameter(AwsError):
    code, status = "UnknownParameter", 400


class UnknownOperationException(AwsError):
    code, status = "UnknownOperationException", 400


class SerializationException(AwsError):
    code, status = "SerializationException", 400


class ValidationException(AwsError):
    code, status = "ValidationException", 400


MALFORMED_XML = "The XML you provided was not well-formed or did not validate against our published schema"


class MalformedXML(AwsError):
    code, status = "MalformedXML", 400


class MissingRequestBodyError(AwsError):
    code, status = "MissingRequestBodyError", 400


class InvalidArgument(AwsError):
    code, status = "InvalidArgument", 400


class InvalidRequest(AwsError):
    code, status = "InvalidRequest", 400


class MethodNotAllowed(AwsError):
    code, status = "MethodNotAllowed", 405
