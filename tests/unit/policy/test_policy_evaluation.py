"""The decision logic across policy types, and AWS's denial messages.

Evaluation logic: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
Boundaries:       https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
Session policies: https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session
Principal:        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
NotPrincipal:     https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
Access denied:    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
"""

from __future__ import annotations

from typing import Any

from policy_helpers import ACCOUNT, BOB, OTHER_ACCOUNT, ROLE_ARN, ROOT, SESSION, STRANGER, allow, deny, policy

from keyless.policy import ANONYMOUS, Decision, PolicyKind, PolicySet, Principal, Request, evaluate, evaluate_trust

OBJECT = "arn:aws:s3:::bucket/key"


def bucket_policy(*statements: dict[str, Any]) -> Any:
    return policy(*statements, kind=PolicyKind.RESOURCE, policy_id="bucket-policy")


def grant_to(principal: Any, effect: str = "Allow", action: str = "s3:GetObject") -> dict[str, Any]:
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": OBJECT}


def run(principal: Principal, identity: tuple[Any, ...] = (), boundary: Any = None, session: Any = None,
        resource_policy: Any = None, resource_account: str | None = None, action: str = "s3:GetObject",
        context: dict[str, Any] | None = None) -> Decision:
    return evaluate(Request(action, OBJECT, principal, context or {}), PolicySet(identity, boundary, session),
                    resource_policy, resource_account=resource_account)


READ = policy(allow("s3:GetObject", OBJECT), policy_id="inline:user/bob/read")
NOTHING = policy(allow("ec2:DescribeInstances"), policy_id="inline:boundary")


def test_no_policy_is_an_implicit_deny_with_awss_message() -> None:
    decision = run(BOB)
    assert (decision.allowed, decision.result, decision.denied_by) == (False, "implicitDeny", "identity-based policy")
    assert decision.aws_message(BOB.arn, "s3:GetObject", OBJECT) == (
        f"User: {BOB.arn} is not authorized to perform: s3:GetObject on resource: {OBJECT} "
        "because no identity-based policy allows the s3:GetObject action")


def test_identity_allow() -> None:
    decision = run(BOB, (READ,))
    assert decision.allowed and decision.result == "allowed" and decision.denied_by is None
    assert [m.policy_id for m in decision.matched] == ["inline:user/bob/read"]


def test_explicit_deny_anywhere_wins() -> None:
    denying = policy(deny("s3:*"), policy_id=f"arn:aws:iam::{ACCOUNT}:policy/NoS3")
    decision = run(BOB, (READ, denying))
    assert (decision.result, decision.denied_by) == ("explicitDeny", "identity-based policy")
    # Managed policies are named in the message; the statement is reported as the match.
    assert decision.aws_message(BOB.arn, "s3:GetObject", OBJECT).endswith(
        f"with an explicit deny in an identity-based policy: arn:aws:iam::{ACCOUNT}:policy/NoS3")
    assert decision.matched[0].effect == "Deny"


def test_explicit_deny_in_inline_policy_is_not_named() -> None:
    decision = run(BOB, (READ, policy(deny("s3:*"), policy_id="inline:user/bob/no")))
    assert decision.aws_message(BOB.arn, "s3:GetObject", OBJECT).endswith("with an explicit deny in an identity-based policy")


def test_message_omits_resource_for_star() -> None:
    decision = evaluate(Request("iam:ListUsers", "*", BOB), PolicySet())
    assert decision.aws_message(BOB.arn, "iam:ListUsers", "*") == (
        f"User: {BOB.arn} is not authorized to perform: iam:ListUsers because no identity-based policy allows the iam:ListUsers action")


# --- resource-based policies ----------------------------------------------------------------------


def test_resource_policy_naming_the_user_grants_on_its_own() -> None:
    # Evaluation logic: a same-account resource policy naming the user allows without identity policies.
    assert run(BOB, resource_policy=bucket_policy(grant_to({"AWS": BOB.arn}))).allowed


def test_resource_policy_naming_the_user_is_not_cut_by_the_users_boundary() -> None:
    # Boundaries page: an implicit deny in a boundary does not limit a resource policy naming the user ARN.
    decision = run(BOB, boundary=NOTHING, resource_policy=bucket_policy(grant_to({"AWS": BOB.arn})))
    assert decision.allowed


def test_resource_policy_naming_the_session_grants_despite_boundary_and_session_policy() -> None:
    decision = run(SESSION, boundary=NOTHING, session=(NOTHING,),
                   resource_policy=bucket_policy(grant_to({"AWS": SESSION.arn})))
    assert decision.allowed


def test_resource_policy_naming_the_role_is_cut_by_boundary_and_session_policy() -> None:
    by_role = bucket_policy(grant_to({"AWS": ROLE_ARN}))
    assert run(SESSION, resource_policy=by_role).allowed  # no identity policy needed
    bounded = run(SESSION, boundary=NOTHING, resource_policy=by_role)
    assert (bounded.result, bounded.denied_by) == ("implicitDeny", "permissions boundary")
    scoped = run(SESSION, session=(NOTHING,), resource_policy=by_role)
    assert (scoped.result, scoped.denied_by) == ("implicitDeny", "session policy")
    assert run(SESSION, boundary=READ, session=(READ,), resource_policy=by_role).allowed


def test_resource_policy_naming_the_account_only_delegates() -> None:
    for name in (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"):
        by_account = bucket_policy(grant_to({"AWS": name}))
        denied = run(BOB, resource_policy=by_account)
        assert (denied.result, denied.denied_by) == ("implicitDeny", "identity-based policy")
        assert run(BOB, (READ,), resource_policy=by_account).allowed


def test_resource_policy_deny_naming_the_caller() -> None:
    decision = run(BOB, (READ,), resource_policy=bucket_policy(grant_to("*", "Deny")))
    assert (decision.result, decision.denied_by) == ("explicitDeny", "resource-based policy")
    assert decision.aws_message(BOB.arn, "s3:GetObject", OBJECT).endswith("with an explicit deny in a resource-based policy")
    # A Deny naming someone else does not apply.
    assert run(BOB, (READ,), resource_policy=bucket_policy(grant_to({"AWS": STRANGER.arn}, "Deny"))).allowed


def test_public_resource_policy_allows_anonymous_callers() -> None:
    public = bucket_policy(grant_to("*"))
    assert run(ANONYMOUS, resource_policy=public).allowed
    assert run(ANONYMOUS, resource_policy=bucket_policy(grant_to({"AWS": "*"}))).allowed
    assert not run(ANONYMOUS, resource_policy=bucket_policy(grant_to({"AWS": ACCOUNT}))).allowed
    assert not run(ANONYMOUS).allowed


def test_service_principal() -> None:
    service = Principal(arn=None, type="Service", service="cloudtrail.amazonaws.com")
    by_service = bucket_policy(grant_to({"Service": "cloudtrail.amazonaws.com"}))
    assert run(service, resource_policy=by_service).allowed
    assert not run(Principal(arn=None, type="Service", service="ec2.amazonaws.com"), resource_policy=by_service).allowed


# --- boundaries and session policies -----------------------------------------------------------------


def test_boundary_is_an_intersection() -> None:
    # Boundaries page: effective permissions are identity policy AND boundary.
    assert run(BOB, (READ,), boundary=READ).allowed
    limited = run(BOB, (READ,), boundary=NOTHING)
    assert (limited.result, limited.denied_by) == ("implicitDeny", "permissions boundary")
    assert limited.aws_message(BOB.arn, "s3:GetObject", OBJECT).endswith("because no permissions boundary allows the s3:GetObject action")
    # A boundary alone grants nothing.
    assert run(BOB, (), boundary=READ).denied_by == "identity-based policy"


def test_explicit_deny_in_boundary() -> None:
    decision = run(BOB, (READ,), boundary=policy(allow("*"), deny("s3:GetObject")))
    assert (decision.result, decision.denied_by) == ("explicitDeny", "permissions boundary")


def test_session_policy_is_an_intersection() -> None:
    assert run(SESSION, (READ,), session=(READ,)).allowed
    decision = run(SESSION, (READ,), session=(NOTHING,))
    assert (decision.result, decision.denied_by) == ("implicitDeny", "session policy")
    # Several session policies (Policy + PolicyArns): any one allowing suffices.
    assert run(SESSION, (READ,), session=(NOTHING, READ)).allowed
    denying = run(SESSION, (READ,), session=(policy(deny("s3:*")),))
    assert (denying.result, denying.denied_by) == ("explicitDeny", "session policy")


def test_session_without_session_policies_has_the_roles_permissions() -> None:
    assert run(SESSION, (READ,), session=None).allowed


# --- cross-account, root ------------------------------------------------------------------------------


def test_cross_account_needs_both_sides() -> None:
    eve_reads = policy(allow("s3:GetObject", OBJECT))
    trusting = bucket_policy(grant_to({"AWS": STRANGER.arn}))
    assert run(STRANGER, (eve_reads,), resource_policy=trusting, resource_account=ACCOUNT).allowed
    no_resource_side = run(STRANGER, (eve_reads,), resource_account=ACCOUNT)
    assert (no_resource_side.result, no_resource_side.denied_by) == ("implicitDeny", "resource-based policy")
    no_identity_side = run(STRANGER, (), resource_policy=trusting, resource_account=ACCOUNT)
    assert (no_identity_side.result, no_identity_side.denied_by) == ("implicitDeny", "identity-based policy")
    by_account = bucket_policy(grant_to({"AWS": OTHER_ACCOUNT}))
    assert run(STRANGER, (eve_reads,), resource_policy=by_account, resource_account=ACCOUNT).allowed


def test_root_is_limited_only_by_explicit_denies() -> None:
    assert run(ROOT).allowed
    assert run(ROOT, resource_policy=bucket_policy(grant_to("*", "Deny"))).result == "explicitDeny"


# --- NotPrincipal ------------------------------------------------------------------------------------


def test_not_principal_must_list_session_role_and_account() -> None:
    # NotPrincipal page: to exempt a role session, list the session ARN, the role ARN and the account.
    everything = policy(allow("s3:*"))
    every_identity = {"AWS": [SESSION.arn, ROLE_ARN, f"arn:aws:iam::{ACCOUNT}:root"]}
    exempt = bucket_policy({"Effect": "Deny", "NotPrincipal": every_identity, "Action": "s3:*", "Resource": OBJECT})
    assert run(SESSION, (everything,), resource_policy=exempt).allowed
    only_session = bucket_policy({"Effect": "Deny", "NotPrincipal": {"AWS": SESSION.arn}, "Action": "s3:*", "Resource": OBJECT})
    assert run(SESSION, (everything,), resource_policy=only_session).result == "explicitDeny"
    assert run(BOB, (everything,), resource_policy=exempt).result == "explicitDeny"


# --- role trust -----------------------------------------------------------------------------------------

ASSUME = Request("sts:AssumeRole", ROLE_ARN, BOB)


def trust(principal: Any, effect: str = "Allow", **extra: Any) -> Any:
    return policy({"Effect": effect, "Principal": principal, "Action": "sts:AssumeRole", **extra},
                  kind=PolicyKind.TRUST, policy_id="trust:role/app")


ASSUME_POLICY = policy(allow("sts:AssumeRole", ROLE_ARN))


def test_trust_naming_the_user_suffices_within_the_account() -> None:
    # AssumeRole API reference: a trust policy naming the user ARN is enough in the same account.
    assert evaluate_trust(ASSUME, trust({"AWS": BOB.arn}), PolicySet()).allowed


def test_trust_naming_only_the_account_needs_an_identity_allow() -> None:
    decision = evaluate_trust(ASSUME, trust({"AWS": ACCOUNT}), PolicySet())
    assert (decision.result, decision.denied_by) == ("implicitDeny", "identity-based policy")
    assert evaluate_trust(ASSUME, trust({"AWS": ACCOUNT}), PolicySet((ASSUME_POLICY,))).allowed


def test_trust_must_allow_even_with_an_identity_allow() -> None:
    decision = evaluate_trust(ASSUME, trust({"AWS": STRANGER.arn}), PolicySet((ASSUME_POLICY,)))
    assert (decision.result, decision.denied_by) == ("implicitDeny", "role trust policy")
    assert decision.aws_message(BOB.arn, "sts:AssumeRole", ROLE_ARN) == (
        f"User: {BOB.arn} is not authorized to perform: sts:AssumeRole on resource: {ROLE_ARN} "
        "because no role trust policy allows the sts:AssumeRole action")


def test_explicit_deny_in_trust() -> None:
    both = policy({"Effect": "Allow", "Principal": {"AWS": BOB.arn}, "Action": "sts:AssumeRole"},
                  {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}, kind=PolicyKind.TRUST)
    decision = evaluate_trust(ASSUME, both)
    assert (decision.result, decision.denied_by) == ("explicitDeny", "role trust policy")
    assert decision.aws_message(BOB.arn, "sts:AssumeRole", ROLE_ARN).endswith("with an explicit deny in the role trust policy")


def test_trust_for_ec2_service() -> None:
    ec2 = Principal(arn=None, type="Service", service="ec2.amazonaws.com")
    request = Request("sts:AssumeRole", ROLE_ARN, ec2)
    assert evaluate_trust(request, trust({"Service": "ec2.amazonaws.com"})).allowed
    assert not evaluate_trust(request, trust({"Service": "lambda.amazonaws.com"})).allowed


def test_trust_with_external_id_condition() -> None:
    guarded = trust({"AWS": OTHER_ACCOUNT}, Condition={"StringEquals": {"sts:ExternalId": "secret"}})
    eve_may = PolicySet((policy(allow("sts:AssumeRole", ROLE_ARN)),))
    with_id = Request("sts:AssumeRole", ROLE_ARN, STRANGER, {"sts:ExternalId": "secret"})
    assert evaluate_trust(with_id, guarded, eve_may).allowed
    assert not evaluate_trust(Request("sts:AssumeRole", ROLE_ARN, STRANGER), guarded, eve_may).allowed
    # Across accounts the caller's own policies must allow as well.
    assert evaluate_trust(with_id, guarded, PolicySet()).denied_by == "identity-based policy"


def test_explanation_names_the_statements_and_reasons() -> None:
    denied = run(BOB, (policy(allow("s3:GetObject", "arn:aws:s3:::other/*", Sid="ReadOther"), policy_id="inline:user/bob/p"),))
    text = denied.explanation
    assert "implicitDeny" in text and "inline:user/bob/p statement ReadOther" in text
    assert "does not cover arn:aws:s3:::bucket/key" in text
    conditional = run(BOB, (policy(allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),),
                      context={"aws:SourceIp": "192.0.2.1"})
    assert "condition not met: IpAddress {'aws:SourceIp': '10.0.0.0/8'}" in conditional.explanation


def test_boundary_page_example_create_user_outside_the_boundary() -> None:
    # Boundaries page: a boundary of s3:*, cloudwatch:*, ec2:* and an identity policy allowing
    # iam:CreateUser: the user still cannot create users.
    boundary = policy(allow(["s3:*", "cloudwatch:*", "ec2:*"]), kind=PolicyKind.BOUNDARY)
    identity = policy(allow("iam:CreateUser"), allow("s3:ListAllMyBuckets"))
    create = evaluate(Request("iam:CreateUser", "*", BOB), PolicySet((identity,), boundary))
    assert (create.result, create.denied_by) == ("implicitDeny", "permissions boundary")
    assert evaluate(Request("s3:ListAllMyBuckets", "*", BOB), PolicySet((identity,), boundary)).allowed
