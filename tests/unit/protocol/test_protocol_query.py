"""The query protocol (IAM, STS): matching, parsing, AWS's validation sentences, envelopes."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from keyless import errors
from keyless.protocol import protocol_for
from keyless.protocol.errors import MalformedQueryString, MissingAction
from keyless.protocol.http import HttpRequest
from protocol_oracle import botocore_parse, botocore_request, operation

ROLE_ARN = "arn:aws:iam::123456789012:role/dev"


def form(body: str, query: str = "") -> HttpRequest:
    return HttpRequest("POST", "/", query, [("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
                       body.encode())


def parse(service: str, req: HttpRequest) -> dict[str, Any]:
    proto = protocol_for(service)
    return proto.parse(proto.match_operation(req), req)


def validation_message(service: str, op: str, params: dict[str, Any]) -> str:
    with pytest.raises(errors.ValidationError) as exc:
        parse(service, botocore_request(service, op, params))
    assert exc.value.status == 400
    return exc.value.message


# --- matching -------------------------------------------------------------------------------------


def test_action_from_the_form_body() -> None:
    req = botocore_request("sts", "GetCallerIdentity", {})
    assert protocol_for("sts").match_operation(req).name == "GetCallerIdentity"


def test_action_from_the_query_string_of_a_presigned_get() -> None:
    req = HttpRequest("GET", "/", "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Signature=abc", [], b"")
    assert protocol_for("sts").match_operation(req).name == "GetCallerIdentity"


def test_form_is_decoded_once_and_kept_on_the_request() -> None:
    req = botocore_request("iam", "GetRole", {"RoleName": "dev"})
    proto = protocol_for("iam")
    op = proto.match_operation(req)
    kept = req._form
    assert kept is not None and kept["RoleName"] == "dev"
    assert proto.parse(op, req) == {"RoleName": "dev"}
    assert req._form is kept


def test_unknown_action_is_invalid_action() -> None:
    with pytest.raises(errors.InvalidAction) as exc:
        protocol_for("iam").match_operation(form("Action=Frobnicate&Version=2010-05-08"))
    assert (exc.value.status, exc.value.message) == (400, "Could not find operation Frobnicate for version 2010-05-08")


def test_missing_action() -> None:
    with pytest.raises(MissingAction):
        protocol_for("sts").match_operation(form("Version=2011-06-15"))


def test_invalid_utf8_form_is_malformed_query_string() -> None:
    req = HttpRequest("POST", "/", "", [], b"Action=GetRole&RoleName=%ff%fe")
    with pytest.raises(MalformedQueryString) as exc:
        parse("iam", req)
    assert 400 <= exc.value.status < 500


# --- parsing --------------------------------------------------------------------------------------


def test_nested_lists_and_typed_scalars() -> None:
    params = {"RoleArn": ROLE_ARN, "RoleSessionName": "dev", "DurationSeconds": 900,
              "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
              "Tags": [{"Key": "team", "Value": "a=b c"}, {"Key": "env", "Value": ""}], "TransitiveTagKeys": []}
    assert parse("sts", botocore_request("sts", "AssumeRole", params)) == params


def test_empty_list_travels_as_a_bare_name() -> None:
    req = form("Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=%7B%7D&Tags=")
    assert parse("iam", req)["Tags"] == []


def test_list_elements_come_back_in_index_order() -> None:
    req = form("Action=TagRole&Version=2010-05-08&RoleName=r&Tags.member.2.Key=b&Tags.member.2.Value=2"
               "&Tags.member.10.Key=c&Tags.member.10.Value=10&Tags.member.1.Key=a&Tags.member.1.Value=1")
    assert [t["Key"] for t in parse("iam", req)["Tags"]] == ["a", "b", "c"]


# --- validation (AWS's words) ---------------------------------------------------------------------


def test_pattern_violation_sentence() -> None:
    assert validation_message("sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "a b"}) == (
        "1 validation error detected: Value 'a b' at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*")


def test_several_violations_are_counted_and_joined() -> None:
    message = validation_message("sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "a b",
                                                       "DurationSeconds": 100})
    assert message == (
        "2 validation errors detected: Value 'a b' at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*; Value '100' at 'durationSeconds' failed to "
        "satisfy constraint: Member must have value greater than or equal to 900")


def test_pattern_failure_is_listed_before_length_failure() -> None:
    message = validation_message("sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "#"})
    assert message.startswith("2 validation errors detected: Value '#' at 'roleSessionName' failed to satisfy "
                              "constraint: Member must satisfy regular expression pattern")
    assert message.endswith("Value '#' at 'roleSessionName' failed to satisfy constraint: "
                            "Member must have length greater than or equal to 2")


def test_missing_required_member_is_null() -> None:
    req = form("Action=AssumeRole&Version=2011-06-15&RoleSessionName=dev")
    with pytest.raises(errors.ValidationError) as exc:
        parse("sts", req)
    assert exc.value.message == ("1 validation error detected: Value null at 'roleArn' failed to satisfy "
                                 "constraint: Member must not be null")


def test_list_member_paths_name_the_position() -> None:
    message = validation_message("sts", "AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "dev",
                                                       "Tags": [{"Key": "ok", "Value": "v"}, {"Key": "#", "Value": "v"}]})
    assert message == ("1 validation error detected: Value '#' at 'tags.2.member.key' failed to satisfy constraint: "
                       "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+")


def test_unicode_letters_satisfy_java_unicode_classes() -> None:
    params = {"RoleArn": ROLE_ARN, "RoleSessionName": "dev", "Tags": [{"Key": "équipe 東京", "Value": "ünï"}]}
    assert parse("sts", botocore_request("sts", "AssumeRole", params))["Tags"] == params["Tags"]


def test_enum_violation_lists_the_allowed_values() -> None:
    message = validation_message("iam", "UpdateAccessKey", {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "Off"})
    assert message == ("1 validation error detected: Value 'Off' at 'status' failed to satisfy constraint: "
                       "Member must satisfy enum value set: [Active, Inactive, Expired]")


def test_sensitive_values_are_not_echoed() -> None:
    message = validation_message("iam", "CreateLoginProfile", {"UserName": "u", "Password": "\u0100"})
    assert message == ("1 validation error detected: Value at 'password' failed to satisfy constraint: "
                       "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+")


def test_wrong_type_is_a_validation_error() -> None:
    req = form(f"Action=AssumeRole&Version=2011-06-15&RoleArn={ROLE_ARN}&RoleSessionName=dev&DurationSeconds=soon")
    with pytest.raises(errors.ValidationError) as exc:
        parse("sts", req)
    assert "Value 'soon' at 'durationSeconds'" in exc.value.message


# --- responses ------------------------------------------------------------------------------------


def test_response_envelope() -> None:
    proto = protocol_for("sts")
    resp = proto.serialize(operation("sts", "GetCallerIdentity"),
                           {"UserId": "AIDA", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/a"}, "r-1")
    assert resp.status == 200
    assert ("content-type", "text/xml") in resp.headers and ("x-amzn-requestid", "r-1") in resp.headers
    assert resp.body == (
        b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
        b"<UserId>AIDA</UserId><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:user/a</Arn>"
        b"</GetCallerIdentityResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
        b"</GetCallerIdentityResponse>")


def test_operation_without_output_has_only_metadata() -> None:
    resp = protocol_for("iam").serialize(operation("iam", "DeleteRole"), {}, "r-2")
    assert resp.body == (b'<DeleteRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata>'
                         b"<RequestId>r-2</RequestId></ResponseMetadata></DeleteRoleResponse>")


def test_lists_timestamps_and_escaping_reach_botocore() -> None:
    op = operation("iam", "ListRoles")
    created = datetime(2026, 11, 28, 10, tzinfo=timezone.utc)
    role = {"Path": "/", "RoleName": "r", "RoleId": "AROA", "Arn": "arn", "CreateDate": created,
            "Description": "<a & b>\r\n"}
    resp = protocol_for("iam").serialize(op, {"Roles": [role], "IsTruncated": False}, "r-3")
    assert b"<Roles><member><Path>/</Path>" in resp.body and b"<CreateDate>2026-11-28T10:00:00Z</CreateDate>" in resp.body
    parsed = botocore_parse("iam", op.output_shape, resp)
    assert parsed["Roles"] == [role] and parsed["IsTruncated"] is False
    empty = protocol_for("iam").serialize(op, {"Roles": [], "IsTruncated": False}, "r-4")
    assert b"<Roles/>" in empty.body and botocore_parse("iam", op.output_shape, empty)["Roles"] == []


def test_error_envelope() -> None:
    resp = protocol_for("iam").serialize_error(errors.error_class("NoSuchEntity", 404)("The role with name x cannot be found."), "r-5")
    assert resp.status == 404
    assert resp.body == (b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
                         b"<Code>NoSuchEntity</Code><Message>The role with name x cannot be found.</Message></Error>"
                         b"<RequestId>r-5</RequestId></ErrorResponse>")


def test_server_faults_are_receiver_errors() -> None:
    resp = protocol_for("sts").serialize_error(errors.InternalFailure("boom"), "r-6")
    parsed = botocore_parse("sts", None, resp)
    assert (resp.status, parsed["Error"]["Type"], parsed["Error"]["Code"]) == (500, "Receiver", "InternalFailure")
