"""Requests AWS serialises, raced from many threads released together by a barrier, several rounds:

  * AddRoleToInstanceProfile x N on one profile -> one success, N-1 LimitExceeded;
  * CreateRole x N with one name -> one success, N-1 EntityAlreadyExists;
  * AssociateIamInstanceProfile x N on one instance -> one success, N-1 IncorrectState;
  * PutObject x N on one key while readers GET it -> the final object is exactly one writer's
    body (with that writer's ETag), every read sees one whole body, no blob leaks.

The winner is whoever the server says succeeded; the state read afterwards must be the winner's.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
import time
import uuid
from typing import Any, Callable

import botocore.exceptions
import botocore.session
import pytest
from botocore.config import Config

from keyless.testing import Server

RACERS = 8
ROUNDS = 4
EC2_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

Outcome = tuple[str, Any]  # ("ok", response) or (error code, HTTP status)


class Racers:
    """One botocore client per thread and service, built once: building them is the slow part."""

    def __init__(self, server: Server) -> None:
        self._session = botocore.session.get_session()
        self._server = server
        self._clients: dict[str, list[Any]] = {}

    def clients(self, service: str) -> list[Any]:
        if service not in self._clients:
            config = Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"},
                            max_pool_connections=2)
            self._clients[service] = [
                self._session.create_client(service, endpoint_url=self._server.endpoint, region_name="us-east-1",
                                            config=config, **self._server.admin_credentials())
                for _ in range(RACERS)]
        return self._clients[service]

    def race(self, service: str, call: Callable[[Any, int], Any]) -> list[Outcome]:
        """Run call(client_i, i) on RACERS threads released at once; every outcome, in thread order."""
        clients = self.clients(service)
        barrier = threading.Barrier(RACERS)
        outcomes: list[Outcome | None] = [None] * RACERS

        def run(i: int) -> None:
            barrier.wait()
            try:
                outcomes[i] = ("ok", call(clients[i], i))
            except botocore.exceptions.ClientError as exc:
                outcomes[i] = (exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert all(o is not None for o in outcomes), "a racer never finished"
        return outcomes  # type: ignore[return-value]


@pytest.fixture(scope="module")
def racers(server: Server) -> Racers:
    return Racers(server)


def one_winner(outcomes: list[Outcome], loser: tuple[str, int]) -> int:
    """Exactly one success and every other racer the AWS error; the winner's index."""
    winners = [i for i, (code, _) in enumerate(outcomes) if code == "ok"]
    assert len(winners) == 1, outcomes
    assert [o for i, o in enumerate(outcomes) if i != winners[0]] == [loser] * (RACERS - 1), outcomes
    return winners[0]


def test_add_role_to_one_instance_profile_one_wins_others_limit_exceeded(racers: Racers) -> None:
    iam = racers.clients("iam")[0]
    for _ in range(ROUNDS):
        name = f"race-profile-{uuid.uuid4().hex[:8]}"
        iam.create_instance_profile(InstanceProfileName=name)
        roles = [f"{name}-{i}" for i in range(RACERS)]
        for role in roles:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=EC2_TRUST)
        outcomes = racers.race("iam", lambda c, i: c.add_role_to_instance_profile(InstanceProfileName=name, RoleName=roles[i]))
        winner = one_winner(outcomes, ("LimitExceeded", 409))
        held = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"]
        assert [r["RoleName"] for r in held] == [roles[winner]]


def test_add_the_same_role_twice_at_once_one_wins(racers: Racers) -> None:
    iam = racers.clients("iam")[0]
    for _ in range(ROUNDS):
        name = f"race-same-{uuid.uuid4().hex[:8]}"
        iam.create_instance_profile(InstanceProfileName=name)
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=EC2_TRUST)
        outcomes = racers.race("iam", lambda c, i: c.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name))
        one_winner(outcomes, ("LimitExceeded", 409))
        assert len(iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"]) == 1


def test_create_role_with_one_name_one_wins_others_entity_already_exists(racers: Racers) -> None:
    iam = racers.clients("iam")[0]
    for _ in range(ROUNDS):
        name = f"race-role-{uuid.uuid4().hex[:8]}"
        outcomes = racers.race("iam", lambda c, i: c.create_role(
            RoleName=name, AssumeRolePolicyDocument=EC2_TRUST, Description=f"racer {i}")["Role"])
        winner = one_winner(outcomes, ("EntityAlreadyExists", 409))
        stored = iam.get_role(RoleName=name)["Role"]
        assert (stored["RoleId"], stored["Description"]) == (outcomes[winner][1]["RoleId"], f"racer {winner}")
        assert sum(r["RoleName"] == name for r in iam.list_roles(PathPrefix="/")["Roles"]) == 1


def _imds_roles(server: Server, instance_id: str) -> str:
    """The role names the instance's own metadata service lists (IMDSv2)."""
    url = server.app.state.components["imds"].endpoint(instance_id)
    host, port = url[len("http://"):].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        token = conn.getresponse().read().decode()
        conn.request("GET", "/latest/meta-data/iam/security-credentials/", headers={"X-aws-ec2-metadata-token": token})
        resp = conn.getresponse()
        return f"{resp.status} {resp.read().decode()}"
    finally:
        conn.close()


def test_associate_on_one_instance_one_wins_others_incorrect_state(server: Server, racers: Racers) -> None:
    iam, ec2 = racers.clients("iam")[0], racers.clients("ec2")[0]
    base = f"race-assoc-{uuid.uuid4().hex[:8]}"
    profiles = []
    for i in range(RACERS):
        iam.create_role(RoleName=f"{base}-{i}", AssumeRolePolicyDocument=EC2_TRUST)
        profiles.append(iam.create_instance_profile(InstanceProfileName=f"{base}-{i}")["InstanceProfile"])
        iam.add_role_to_instance_profile(InstanceProfileName=f"{base}-{i}", RoleName=f"{base}-{i}")
    for _ in range(ROUNDS):
        instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        try:
            outcomes = racers.race("ec2", lambda c, i: c.associate_iam_instance_profile(
                InstanceId=instance, IamInstanceProfile={"Arn": profiles[i]["Arn"]})["IamInstanceProfileAssociation"])
            winner = one_winner(outcomes, ("IncorrectState", 400))
            live = ec2.describe_iam_instance_profile_associations(
                Filters=[{"Name": "instance-id", "Values": [instance]}])["IamInstanceProfileAssociations"]
            assert [(a["AssociationId"], a["IamInstanceProfile"]["Arn"]) for a in live] == [
                (outcomes[winner][1]["AssociationId"], profiles[winner]["Arn"])]
            assert _imds_roles(server, instance) == f"200 {base}-{winner}"
        finally:
            ec2.terminate_instances(InstanceIds=[instance])


# --- one key, many writers ----------------------------------------------------------------------


def _blob_files(server: Server) -> set[str]:
    return {p.name for p in (server.data_dir / "s3" / "blobs").iterdir()}


def _referenced_blobs(server: Server) -> set[str]:
    # Through the server's own pool: closing another connection to the file in this process (the
    # server runs in it) would drop the server's SQLite locks, which POSIX keeps per process.
    with server.app.state.db.read() as conn:
        return {r[0] for r in conn.exec_driver_sql("SELECT blob FROM s3_objects UNION SELECT blob FROM s3_parts")}


def test_concurrent_put_object_on_one_key_last_writer_wins_never_a_mixed_body(server: Server, racers: Racers) -> None:
    s3 = racers.clients("s3")[0]
    bucket = f"race-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    # Bodies of ~1.5 MiB are written in batches (see storage.SPILL), so a torn write would show; every
    # racer's bytes differ everywhere, so any mix of two bodies matches neither.
    sizes = [1_500_000 + 4096 * i for i in range(RACERS)]
    previous: set[bytes] = set()
    for round_ in range(ROUNDS):
        bodies = [bytes([(round_ * RACERS + i) % 251 + 1]) * size for i, size in enumerate(sizes)]
        stop, seen, errors = threading.Event(), [], []

        def read() -> None:  # a reader GETs the key throughout the race: every read is one whole body
            reader = racers.clients("s3")[0]
            while not stop.is_set():
                try:
                    seen.append(hashlib.md5(reader.get_object(Bucket=bucket, Key="k")["Body"].read()).hexdigest())
                except botocore.exceptions.ClientError as exc:
                    errors.append(exc.response["Error"]["Code"])

        reader_thread = threading.Thread(target=read)
        reader_thread.start()
        try:
            outcomes = racers.race("s3", lambda c, i: c.put_object(Bucket=bucket, Key="k", Body=bodies[i])["ETag"])
        finally:
            stop.set()
            reader_thread.join(timeout=60)
        assert [code for code, _ in outcomes] == ["ok"] * RACERS, outcomes
        final = s3.get_object(Bucket=bucket, Key="k")
        body = final["Body"].read()
        assert body in bodies, "the final object is not exactly one writer's body"
        winner = bodies.index(body)
        assert final["ETag"] == outcomes[winner][1] == f'"{hashlib.md5(body).hexdigest()}"'
        whole = {hashlib.md5(b).hexdigest() for b in [*bodies, *previous]}
        assert set(seen) <= whole, "a reader saw a body no writer wrote"
        assert set(errors) <= ({"NoSuchKey"} if round_ == 0 else set()), errors
        previous = {body}
    # Replaced blobs are unlinked off the request path; wait (bounded) for those unlinks to land.
    deadline = time.monotonic() + 10
    while _blob_files(server) - _referenced_blobs(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _blob_files(server) - _referenced_blobs(server) == set(), "overwritten blobs leaked"
