"""IAM error codes, with code and HTTP status as botocore's iam model declares them.

    AwsError
     ├─ NoSuchEntity            404  the named user/role/policy/profile/key does not exist
     ├─ EntityAlreadyExists     409  a name taken (case-insensitively for users, roles, profiles)
     ├─ LimitExceeded           409  a quota: keys per user, roles per profile, versions, sizes
     ├─ DeleteConflict          409  an entity still has keys, policies or profile memberships
     ├─ MalformedPolicyDocument 400  the policy engine's validation message
     ├─ InvalidInput            400  a value the model accepts but IAM does not (bad ARN, tags)
     ├─ UnmodifiableEntity      400  AWS-managed policies
     ├─ PolicyNotAttachable     400
     └─ PolicyEvaluation        500  the simulator failed
"""

from __future__ import annotations

from keyless.errors import AwsError


class NoSuchEntity(AwsError):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExists(AwsError):
    code = "EntityAlreadyExists"
    status = 409


class LimitExceeded(AwsError):
    code = "LimitExceeded"
    status = 409


class DeleteConflict(AwsError):
    code = "DeleteConflict"
    status = 409


class MalformedPolicyDocument(AwsError):
    code = "MalformedPolicyDocument"
    status = 400


class InvalidInput(AwsError):
    code = "InvalidInput"
    status = 400


class UnmodifiableEntity(AwsError):
    code = "UnmodifiableEntity"
    status = 400


class PolicyNotAttachable(AwsError):
    code = "PolicyNotAttachable"
    status = 400


class PolicyEvaluation(AwsError):
    code = "PolicyEvaluation"
    status = 500
    sender_fault = False
