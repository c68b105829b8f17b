"""`keyless run`: run a command as code on an instance - its credentials can only come from the
instance's metadata service, through the SDK's default chain, exactly as on EC2.

    keyless run --instance-id i-0abc... -- python app.py
    keyless run --instance-profile ec2-s3-access-profile -- aws sts get-caller-identity

With --instance-profile a fresh instance is launched with that profile (using the admin's keys)
and terminated afterwards, unless --keep. The command's environment (credential-chain.md §3):
credential, profile, web-identity and container variables removed; AWS_CONFIG_FILE and
AWS_SHARED_CREDENTIALS_FILE pointed at empty files, BOTO_CONFIG at a missing one;
AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION and NO_PROXY
set. --keep-env skips the scrubbing (then ambient credentials win over IMDS, as they would on
EC2). stdin, stdout, stderr and the exit status pass through.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping

from keyless.cli.env import LOOPBACK_NO_PROXY, SCRUBBED, server_endpoint
from keyless.config import default_data_dir

DEFAULT_IMAGE = "ami-00000000000000000"
DEFAULT_TYPE = "t3.micro"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="run a command as code on an instance (credentials only from its IMDS)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--instance-id", help="a running instance")
    target.add_argument("--instance-profile", help="launch a fresh instance with this profile (name or ARN)")
    p.add_argument("--keep", action="store_true", help="with --instance-profile: leave the instance running")
    p.add_argument("--keep-env", action="store_true", help="do not scrub credentials and config from the environment")
    p.add_argument("--image-id", default=DEFAULT_IMAGE, help=f"with --instance-profile (default {DEFAULT_IMAGE})")
    p.add_argument("--instance-type", default=DEFAULT_TYPE, help=f"with --instance-profile (default {DEFAULT_TYPE})")
    p.add_argument("--data-dir", type=Path, default=None, help="state directory (env KEYLESS_DATA_DIR)")
    p.add_argument("--endpoint", default=None, help="server URL (env KEYLESS_ENDPOINT)")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD...")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("keyless run: no command given (keyless run --instance-id I -- CMD...)", file=sys.stderr)
        return 2
    if args.keep and not args.instance_profile:
        print("keyless run: --keep only applies with --instance-profile", file=sys.stderr)
        return 2
    data_dir = args.data_dir or default_data_dir()
    server, region = server_endpoint(data_dir, args.endpoint)
    launched = None
    if args.instance_profile:
        try:
            launched = launch(data_dir, server, region, args.instance_profile, args.image_id, args.instance_type)
        except Exception as exc:  # botocore's ClientError or a connection error, said plainly
            print(f"keyless run: could not launch an instance with {args.instance_profile}: {exc}", file=sys.stderr)
            return 1
        instance_id = launched
    else:
        instance_id = args.instance_id
    try:
        return _run_on(data_dir, instance_id, server, region, command, keep_env=args.keep_env)
    finally:
        if launched and not args.keep:
            terminate(data_dir, server, region, launched)
        elif launched:
            print(f"keyless run: instance {launched} keeps running", file=sys.stderr)


def _run_on(data_dir: Path, instance_id: str, server: str, region: str, command: list[str], *, keep_env: bool) -> int:
    from keyless.cli.instances import find_instance

    info = find_instance(data_dir, instance_id)
    if info is None or info.imds_endpoint is None:
        state = info.state if info else "unknown"
        print(f"keyless run: instance {instance_id} is {state}; it must be running", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="keyless-run-") as scratch:
        env = instance_environment(os.environ, imds_endpoint=info.imds_endpoint, server=server, region=region,
                                   scratch=Path(scratch), keep_env=keep_env)
        return execute(command, env)


def instance_environment(base: Mapping[str, str], *, imds_endpoint: str, server: str, region: str, scratch: Path,
                         keep_env: bool = False) -> dict[str, str]:
    """The command's environment (pure: tests check it directly)."""
    env = dict(base)
    if not keep_env:
        for name in SCRUBBED:
            env.pop(name, None)
        for name in [n for n in env if n.startswith("AWS_ENDPOINT_URL_")]:
            env.pop(name)  # a per-service endpoint would send that service elsewhere
        empty = scratch / "empty"
        empty.write_bytes(b"")
        env.update({"AWS_CONFIG_FILE": str(empty), "AWS_SHARED_CREDENTIALS_FILE": str(empty),
                    "BOTO_CONFIG": str(scratch / "no-boto-config")})
    env.pop("AWS_EC2_METADATA_DISABLED", None)
    env.pop("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", None)
    env.update({"AWS_EC2_METADATA_SERVICE_ENDPOINT": imds_endpoint, "AWS_ENDPOINT_URL": server,
                "AWS_REGION": region, "AWS_DEFAULT_REGION": region})
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = LOOPBACK_NO_PROXY + ("," + env[name] if env.get(name) else "")
    return env


def execute(command: list[str], env: dict[str, str]) -> int:
    """Run in the foreground; Ctrl-C goes to the command (same process group), not to us."""
    try:
        child = subprocess.Popen(command, env=env)
    except FileNotFoundError:
        print(f"keyless run: {command[0]}: command not found", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"keyless run: {command[0]}: permission denied", file=sys.stderr)
        return 126
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    return 128 - code if code < 0 else code


# --- launching and terminating with the admin's keys --------------------------------------------


def _ec2_client(data_dir: Path, server: str, region: str) -> Any:
    """An EC2 client with the admin's keys and nothing else from the environment: no profile,
    no config files, no metadata service."""
    import botocore.session
    from botocore.config import Config

    from keyless.server.bootstrap import load_admin_credentials

    creds = load_admin_credentials(data_dir, region)
    session = botocore.session.Session()
    session.set_config_variable("profile", None)
    session.set_config_variable("config_file", os.devnull)
    session.set_config_variable("credentials_file", os.devnull)
    return session.create_client(
        "ec2", region_name=region, endpoint_url=server, aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}),
    )


def launch(data_dir: Path, server: str, region: str, profile: str, image_id: str, instance_type: str) -> str:
    spec = {"Arn": profile} if profile.startswith("arn:") else {"Name": profile}
    reservation = _ec2_client(data_dir, server, region).run_instances(
        ImageId=image_id, InstanceType=instance_type, MinCount=1, MaxCount=1, IamInstanceProfile=spec,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "keyless-run"}]}],
    )
    return str(reservation["Instances"][0]["InstanceId"])


def terminate(data_dir: Path, server: str, region: str, instance_id: str) -> None:
    try:
        _ec2_client(data_dir, server, region).terminate_instances(InstanceIds=[instance_id])
    except Exception as exc:
        print(f"keyless run: could not terminate {instance_id}: {exc}", file=sys.stderr)
