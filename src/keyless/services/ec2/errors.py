"""EC2's errors, declared by hand: the EC2 model has no error shapes (STYLE.md, Errors).

    AwsError
     ├─ UnauthorizedOperation 403        the policy engine said no (encoded message attached)
     ├─ DryRunOperation 412              DryRun=true and the caller is authorized
     ├─ InvalidInstanceID.NotFound / .Malformed 400
     ├─ InvalidAssociationID.NotFound 400
     ├─ InvalidAMIID.Malformed 400
     ├─ IncorrectState 400               e.g. a second association for an instance
     ├─ IncorrectInstanceState 400       e.g. starting a terminated instance
     ├─ InvalidParameterCombination 400
     ├─ InvalidIPAddress.InUse 400
     ├─ InstanceLimitExceeded 400
     └─ (InvalidParameterValue, MissingParameter: keyless.errors)

Messages follow AWS's wording where it is known (reference/sts-iam-ec2.md §3).
"""

from __future__ import annotations

from keyless import errors


class UnauthorizedOperation(errors.AwsError):
    code = "UnauthorizedOperation"
    status = 403


class DryRunOperation(errors.AwsError):
    code = "DryRunOperation"
    status = 412

    def __init__(self) -> None:
        super().__init__("Request would have succeeded, but DryRun flag is set.")


class InvalidInstanceIDNotFound(errors.AwsError):
    code = "InvalidInstanceID.NotFound"
    status = 400

    @classmethod
    def for_ids(cls, instance_ids: list[str]) -> InvalidInstanceIDNotFound:
        if len(instance_ids) == 1:
            return cls(f"The instance ID '{instance_ids[0]}' does not exist")
        return cls(f"The instance IDs '{', '.join(instance_ids)}' do not exist")


class InvalidInstanceIDMalformed(errors.AwsError):
    code = "InvalidInstanceID.Malformed"
    status = 400


class InvalidAssociationIDNotFound(errors.AwsError):
    code = "InvalidAssociationID.NotFound"
    status = 400


class InvalidAMIIDMalformed(errors.AwsError):
    code = "InvalidAMIID.Malformed"
    status = 400


class IncorrectState(errors.AwsError):
    code = "IncorrectState"
    status = 400


class IncorrectInstanceState(errors.AwsError):
    code = "IncorrectInstanceState"
    status = 400


class InvalidParameterCombination(errors.AwsError):
    code = "InvalidParameterCombination"
    status = 400


class InvalidIPAddressInUse(errors.AwsError):
    code = "InvalidIPAddress.InUse"
    status = 400


class InstanceLimitExceeded(errors.AwsError):
    code = "InstanceLimitExceeded"
    status = 400


InvalidParameterValue = errors.InvalidParameterValue
MissingParameter = errors.MissingParameter
