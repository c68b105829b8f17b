"""A long-lived boto3 client on IMDS credentials keeps working across rotations, on a server of
its own whose clock the test moves. botocore reads time for signing and for its refresh windows;
both are pointed at the same clock, so client and server agree on what time it is."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Iterator

import boto3
import botocore.auth
import botocore.session
import botocore.utils
import pytest
from botocore.config import Config
from botocore.credentials import CredentialResolver, InstanceMetadataProvider
from botocore.utils import InstanceMetadataFetcher

from keyless.clock import Clock
from keyless.credentials import open_session
from keyless.testing import Server

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
LIST_BUCKETS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}


@pytest.fixture(params=[(6 * 3600, 3600, 24 * 3600), (1800, 600, 4 * 3600)], ids=["aws-defaults", "short-lifetime"])
def timed_server(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, Clock, int]]:
    lifetime, interval, span = request.param
    clock = Clock()

    def now(remove_tzinfo: bool = True) -> dt.datetime:
        moment = dt.datetime.fromtimestamp(clock.time(), tz=dt.timezone.utc)
        return moment.replace(tzinfo=None) if remove_tzinfo else moment

    monkeypatch.setattr(botocore.auth, "get_current_datetime", now)
    monkeypatch.setattr(botocore.utils, "get_current_datetime", now)
    srv = Server(tmp_path / "data", clock=clock, imds_credential_lifetime=lifetime, imds_rotation_interval=interval)
    srv.start()
    try:
        yield srv, clock, span
    finally:
        srv.stop()


def long_lived_client(server: Server, url: str, clock: Clock, service: str) -> Any:
    core = botocore.session.Session()
    fetcher = InstanceMetadataFetcher(timeout=2, num_attempts=1, base_url=url, env={})
    core.register_component("credential_provider", CredentialResolver([InstanceMetadataProvider(fetcher)]))
    session = boto3.Session(botocore_session=core, region_name="us-east-1")
    credentials = core.get_credentials()
    credentials._time_fetcher = lambda: dt.datetime.fromtimestamp(clock.time(), tz=dt.timezone.utc)
    return session.client(service, endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1}))


def test_long_lived_client_survives_rotations(timed_server: tuple[Server, Clock, int]) -> None:
    server, clock, span = timed_server
    iam = server.client("iam")
    iam.create_role(RoleName="rotating", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="rotating", PolicyName="p", PolicyDocument=json.dumps(LIST_BUCKETS))
    iam.create_instance_profile(InstanceProfileName="rotating")
    iam.add_role_to_instance_profile(InstanceProfileName="rotating", RoleName="rotating")
    instance_id = server.client("ec2").run_instances(
        ImageId="ami-12345678", MinCount=1, MaxCount=1, IamInstanceProfile={"Name": "rotating"})["Instances"][0]["InstanceId"]
    url = server.app.state.components["imds"].endpoint(instance_id)
    s3 = long_lived_client(server, url, clock, "s3")
    master_key = server.app.state.master_key
    keys = []
    for _ in range(span // 600):  # one call every ten minutes
        s3.list_buckets()
        used = s3._request_signer._credentials.get_frozen_credentials()
        keys.append(used.access_key)
        # The set in use was never one with under 10 minutes left (imds.md: safe window for SDKs).
        assert open_session(used.token, master_key).expiration - clock.time() >= 600
        clock.advance(600)
    rotations = len(set(keys)) - 1
    assert rotations >= 3, keys
