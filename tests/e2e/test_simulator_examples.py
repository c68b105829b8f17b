"""Issue 3's acceptance test: documented IAM policy examples through the real aws CLI.

Each file in simulator_examples/ is one scenario from AWS's documentation: the page (`source`), the sentence
that decides it (`says`), the policies, context and, for SimulatePrincipalPolicy, the user or role that carries
them, and the decisions (`expect`). Every file is one `aws iam simulate-custom-policy` or
`aws iam simulate-principal-policy` call with `--cli-input-json`; all calls run up front, four at a time,
and each example is then its own test. The CLI reference's own examples carry their printed `command_line`
(shorthand `--context-entries` and all) and run exactly so. `{{PRINCIPAL_NAME}}` / `{{PRINCIPAL_ARN}}` in a
file stand for the uniquely named user or role created for it.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from keyless.testing import Server

EXAMPLES_DIR = Path(__file__).parent / "simulator_examples"
EXAMPLES: dict[str, dict[str, Any]] = {path.stem: json.loads(path.read_text()) for path in sorted(EXAMPLES_DIR.glob("*.json"))}
DECISIONS = {"allowed", "explicitDeny", "implicitDeny"}
PRINCIPAL_API = "simulate-principal-policy"
# SimulatePrincipalPolicy never looks at a role's trust policy; any valid one will do.
DEFAULT_TRUSTED_SERVICE = "ec2.amazonaws.com"


def policy_text(document: str | dict[str, Any]) -> str:
    """A document given as text (the CLI reference's one-line policies) is sent byte for byte."""
    return document if isinstance(document, str) else json.dumps(document, indent=4)


def fill_in(value: Any, name: str, arn: str) -> Any:
    text = json.dumps(value).replace("{{PRINCIPAL_NAME}}", name).replace("{{PRINCIPAL_ARN}}", arn)
    return json.loads(text)


def create_principal(iam: Any, spec: dict[str, Any]) -> tuple[str, str]:
    """The user or role of a SimulatePrincipalPolicy example, with its inline, managed and boundary policies."""
    suffix = uuid.uuid4().hex[:8]
    name = f"{spec['name']}-{suffix}"
    boundary = {}
    if "boundary" in spec:
        created = iam.create_policy(PolicyName=f"{spec['boundary']['name']}-{suffix}",
                                    PolicyDocument=policy_text(spec["boundary"]["document"]))
        boundary = {"PermissionsBoundary": created["Policy"]["Arn"]}
    if spec["type"] == "user":
        arn = iam.create_user(UserName=name, **boundary)["User"]["Arn"]
        put_inline, attach = iam.put_user_policy, iam.attach_user_policy
        owner = {"UserName": name}
    else:
        service = spec.get("trust_service", DEFAULT_TRUSTED_SERVICE)
        trust = {"Version": "2012-10-17",
                 "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}]}
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), **boundary)["Role"]["Arn"]
        put_inline, attach = iam.put_role_policy, iam.attach_role_policy
        owner = {"RoleName": name}
    for policy_name, document in spec.get("inline", {}).items():
        put_inline(**owner, PolicyName=policy_name, PolicyDocument=policy_text(fill_in(document, name, arn)))
    for managed in spec.get("managed", []):
        if isinstance(managed, str):  # an AWS managed policy by ARN
            attach(**owner, PolicyArn=managed)
            continue
        created = iam.create_policy(PolicyName=f"{managed['name']}-{suffix}", PolicyDocument=policy_text(managed["document"]))
        attach(**owner, PolicyArn=created["Policy"]["Arn"])
    return name, arn


def cli_input(example: dict[str, Any], principal_arn: str | None) -> dict[str, Any]:
    """The --cli-input-json document: unique actions and resources; the simulator answers their product."""
    request: dict[str, Any] = {"ActionNames": list(dict.fromkeys(item["action"] for item in example["expect"]))}
    resources = list(dict.fromkeys(item["resource"] for item in example["expect"] if "resource" in item))
    if resources:
        request["ResourceArns"] = resources
    if principal_arn is not None:
        request["PolicySourceArn"] = principal_arn
    else:
        request["PolicyInputList"] = [policy_text(document) for document in example["policies"]]
    if "boundary" in example:
        request["PermissionsBoundaryPolicyInputList"] = [policy_text(example["boundary"])]
    if "resource_policy" in example:
        request["ResourcePolicy"] = policy_text(example["resource_policy"])
    for key, field in (("caller_arn", "CallerArn"), ("resource_owner", "ResourceOwner"), ("context", "ContextEntries")):
        if key in example:
            request[field] = example[key]
    return request


def selected_examples(request: pytest.FixtureRequest) -> list[str]:
    """The examples this session runs, so that `-k one_example` makes one CLI call, not all of them."""
    names = [item.callspec.params["name"] for item in request.session.items
             if getattr(item, "module", None) is request.module and hasattr(item, "callspec")]
    return names or list(EXAMPLES)


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, server: Server, aws: Any,
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each selected example's CLI output (or the exception its call raised), keyed by example name."""
    iam = server.client("iam")
    folder = tmp_path_factory.mktemp("simulator_examples")
    prepared: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for name in selected_examples(request):
        example = EXAMPLES[name]
        principal_arn = None
        if example["api"] == PRINCIPAL_API:
            principal_name, principal_arn = create_principal(iam, example["principal"])
            example = fill_in(example, principal_name, principal_arn)
        path = folder / f"{name}.json"
        path.write_text(json.dumps(cli_input(example, principal_arn)))
        prepared[name] = (example, example.get("command_line") or ["--cli-input-json", f"file://{path}"])

    def run(api: str, arguments: list[str]) -> Any:
        try:
            return aws.json("iam", api, *arguments)
        except AssertionError as exc:  # reported by the example's own test
            return exc

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run, example["api"], arguments) for name, (example, arguments) in prepared.items()}
        return {name: (prepared[name][0], future.result()) for name, future in futures.items()}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_documented_example(name: str, outcomes: dict[str, Any]) -> None:
    example, output = outcomes[name]
    if isinstance(output, Exception):
        raise output
    results = {(r["EvalActionName"], r["EvalResourceName"]): r for r in output["EvaluationResults"]}
    wrong = []
    for item in example["expect"]:
        key = (item["action"], item.get("resource", "*"))
        got = results[key]["EvalDecision"] if key in results else "no result"
        if got != item["decision"]:
            wrong.append(f"{key[0]} on {key[1]}: documented {item['decision']}, keyless said {got}")
    assert not wrong, f"{example['source']}\n  {example['says']}\n  " + "\n  ".join(wrong)
    if "matched" in example:  # the fields the documentation shows of the first result's MatchedStatements
        first = example["expect"][0]
        statements = results[(first["action"], first.get("resource", "*"))]["MatchedStatements"]
        documented = example["matched"]
        shown = [{field: statement.get(field) for field in fields} for statement, fields in zip(statements, documented)]
        assert (len(statements), shown) == (len(documented), documented), f"documented {documented}, got {statements}"


def test_the_collection_is_documented_and_large_enough() -> None:
    assert len(EXAMPLES) >= 40
    assert sum(example["api"] == PRINCIPAL_API for example in EXAMPLES.values()) >= 5
    for name, example in EXAMPLES.items():
        assert example["source"].startswith("https://docs.aws.amazon.com/"), name
        assert example["title"] and example["says"] and example["expect"], name
        assert {item["decision"] for item in example["expect"]} <= DECISIONS, name
        assert example["api"] in ("simulate-custom-policy", PRINCIPAL_API), name
        assert ("principal" in example) == (example["api"] == PRINCIPAL_API), name
        assert ("policies" in example) != ("principal" in example), name
        if "command_line" in example:
            assert_command_line_matches_record(example)


def assert_command_line_matches_record(example: dict[str, Any]) -> None:
    """A printed command line says no more and no less than the example's recorded policies and context."""
    arguments = dict(zip(example["command_line"][::2], example["command_line"][1::2]))
    assert arguments.get("--policy-input-list") == (example["policies"][0] if "policies" in example else None)
    assert arguments["--action-names"].split() == [item["action"] for item in example["expect"]]
    shorthand = arguments.get("--context-entries")  # one entry: Name='...',Values='...',Type=...
    entries = [dict(part.split("=", 1) for part in shorthand.split(","))] if shorthand else []
    recorded = [{"ContextKeyName": f"'{entry['ContextKeyName']}'", "ContextKeyValues": f"'{entry['ContextKeyValues'][0]}'",
                 "ContextKeyType": entry["ContextKeyType"]} for entry in example.get("context", [])]
    assert entries == recorded
