"""pytest plugin (entry point `pytest11`): test an app's least-privilege policy against keyless.

    def test_reader_cannot_write(keyless_instance):
        s3 = keyless_instance(READ_POLICY).client("s3")          # credentials come from IMDS
        s3.get_object(Bucket="data", Key="k")                     # allowed
        with pytest.raises(ClientError, match="AccessDenied"):
            s3.put_object(Bucket="data", Key="k", Body=b"x")      # denied, as on AWS

Fixtures: `keyless_server` (a real server on a free port over a temporary data dir, per session),
`keyless_admin` (a boto3 Session with the admin's keys), `keyless_instance` (a factory: launch an
instance whose role has the given policy and return a boto3 Session whose only credential source
is that instance's metadata service).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable, Iterator

import pytest

from keyless.testing import Server

EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture(scope="session")
def keyless_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("keyless"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def keyless_admin(keyless_server: Server) -> Any:
    return keyless_server.session()


@pytest.fixture
def keyless_instance(keyless_server: Server) -> Iterator[Callable[..., Any]]:
    launched: list[str] = []

    def launch(policy: dict[str, Any] | str, *, name: str | None = None) -> Any:
        instance_id = launch_instance(keyless_server, policy, name=name)
        launched.append(instance_id)
        return instance_session(keyless_server, instance_id)

    yield launch
    if launched:
        keyless_server.client("ec2").terminate_instances(InstanceIds=launched)


def launch_instance(server: Server, policy: dict[str, Any] | str, *, name: str | None = None) -> str:
    """Role (trusting EC2) + inline policy + instance profile + a running instance; returns its id."""
    name = name or f"keyless-test-{uuid.uuid4().hex[:8]}"
    iam, ec2 = server.client("iam"), server.client("ec2")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    iam.put_role_policy(RoleName=name, PolicyName=name,
                        PolicyDocument=policy if isinstance(policy, str) else json.dumps(policy))
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    out = ec2.run_instances(ImageId="ami-12345678", InstanceType="t3.micro", MinCount=1, MaxCount=1,
                            IamInstanceProfile={"Name": name})
    return str(out["Instances"][0]["InstanceId"])


def instance_session(server: Server, instance_id: str) -> Any:
    """A boto3 Session whose one credential provider is the instance's IMDS (as on the instance)."""
    import boto3
    import botocore.session
    from botocore.credentials import CredentialResolver, InstanceMetadataProvider
    from botocore.utils import InstanceMetadataFetcher

    from keyless.cli.instances import find_instance

    info = find_instance(server.data_dir, instance_id)
    if info is None or info.imds_endpoint is None:
        raise RuntimeError(f"instance {instance_id} has no running metadata service")
    # env={}: this session asks this loopback IMDS explicitly, whatever AWS_EC2_METADATA_DISABLED says.
    fetcher = InstanceMetadataFetcher(timeout=2, num_attempts=2, base_url=info.imds_endpoint.rstrip("/"), env={})
    core = botocore.session.get_session()
    core.register_component("credential_provider", CredentialResolver([InstanceMetadataProvider(iam_role_fetcher=fetcher)]))
    core.set_config_variable("region", server.settings.region)
    session = boto3.Session(botocore_session=core)
    session.keyless_endpoint = server.endpoint  # type: ignore[attr-defined]
    original = session.client

    def client(service: str, **kw: Any) -> Any:
        kw.setdefault("endpoint_url", server.endpoint)
        return original(service, **kw)

    session.client = client  # type: ignore[method-assign]
    return session
