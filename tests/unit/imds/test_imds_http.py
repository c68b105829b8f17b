"""IMDSv1/v2 over real HTTP: botocore's own fetchers as the client, plus raw requests for every status."""

from __future__ import annotations

import http.client
import json
from typing import Iterator

import pytest
from botocore.utils import InstanceMetadataFetcher, InstanceMetadataRegionFetcher

from imds_harness import RunningImds, make_view, running
from keyless.imds.model import MetadataOptions

# IMDS is on loopback; botocore must not pick up a proxy for it.
pytestmark = pytest.mark.usefixtures("no_proxy")


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def imds() -> Iterator[RunningImds]:
    yield from running()


def fetcher(imds: RunningImds, **config: object) -> InstanceMetadataFetcher:
    return InstanceMetadataFetcher(timeout=2, num_attempts=1, base_url=imds.url, env={}, config=config)


def request(imds: RunningImds, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", imds.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def token(imds: RunningImds, ttl: str = "21600") -> str:
    status, _, body = request(imds, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
    assert status == 200
    return body.decode()


# --- botocore as the client -------------------------------------------------------------------


def test_botocore_fetches_credentials_over_imdsv2(imds: RunningImds) -> None:
    creds = fetcher(imds).retrieve_iam_role_credentials()
    assert creds["role_name"] == "app-role"
    assert creds["access_key"].startswith("ASIAFAKE")
    delivery, issued = imds.source.minted[-1]
    assert delivery == "2.0" and issued.access_key_id == creds["access_key"]


def test_botocore_falls_back_to_v1_when_token_put_is_forbidden(imds: RunningImds) -> None:
    # A PUT through a proxy is refused with 403, which botocore reads as "no IMDSv2 here".
    status, _, _ = request(imds, "PUT", "/latest/api/token",
                           {"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "10.0.0.1"})
    assert status == 403
    status, _, body = request(imds, "GET", "/latest/meta-data/iam/security-credentials/app-role")
    assert status == 200 and json.loads(body)["Code"] == "Success"
    assert imds.source.minted[-1][0] == "1.0"


def test_v1_and_v2_get_separate_credential_sets(imds: RunningImds) -> None:
    v1 = json.loads(request(imds, "GET", "/latest/meta-data/iam/security-credentials/app-role")[2])
    v2 = json.loads(request(imds, "GET", "/latest/meta-data/iam/security-credentials/app-role",
                            {"X-aws-ec2-metadata-token": token(imds)})[2])
    assert v1["AccessKeyId"] != v2["AccessKeyId"]
    assert [d for d, _ in imds.source.minted] == ["1.0", "2.0"]


def test_http_tokens_required_refuses_v1_but_botocore_still_gets_credentials(imds: RunningImds) -> None:
    imds.update(options=MetadataOptions(http_tokens="required"))
    assert request(imds, "GET", "/latest/meta-data/instance-id")[0] == 401
    assert fetcher(imds).retrieve_iam_role_credentials()["role_name"] == "app-role"


def test_endpoint_disabled_answers_403_and_botocore_finds_nothing(imds: RunningImds) -> None:
    imds.update(options=MetadataOptions(http_endpoint="disabled"))
    assert request(imds, "GET", "/latest/meta-data/instance-id")[0] == 403
    assert request(imds, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})[0] == 403
    assert fetcher(imds).retrieve_iam_role_credentials() == {}


def test_untrusted_role_reports_assume_role_unauthorized_and_botocore_finds_nothing(imds: RunningImds) -> None:
    imds.source.trusted = False
    status, _, body = request(imds, "GET", "/latest/meta-data/iam/security-credentials/app-role")
    document = json.loads(body)
    assert status == 200 and document["Code"] == "AssumeRoleUnauthorizedAccess"
    assert document["Message"].startswith("EC2 cannot assume the role app-role.")
    assert fetcher(imds).retrieve_iam_role_credentials() == {}


def test_region_provider_reads_availability_zone_with_trailing_slash(imds: RunningImds) -> None:
    region = InstanceMetadataRegionFetcher(timeout=2, num_attempts=1, base_url=imds.url, env={}).retrieve_region()
    assert region == "us-east-1"


# --- tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ttl", ["0", "21601", "-5", "abc", "", "1.5"])
def test_token_ttl_out_of_range_is_400(imds: RunningImds, ttl: str) -> None:
    assert request(imds, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})[0] == 400


def test_token_without_ttl_header_is_400(imds: RunningImds) -> None:
    assert request(imds, "PUT", "/latest/api/token")[0] == 400


@pytest.mark.parametrize("ttl", ["1", "21600"])
def test_token_ttl_bounds_are_accepted_and_echoed(imds: RunningImds, ttl: str) -> None:
    status, headers, body = request(imds, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
    assert status == 200 and body
    assert headers["x-aws-ec2-metadata-token-ttl-seconds"] == ttl
    assert headers["content-type"] == "text/plain"


def test_token_put_on_a_dated_version_is_403(imds: RunningImds) -> None:
    assert request(imds, "PUT", "/2021-03-23/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})[0] == 403


def test_invalid_token_is_401_even_when_tokens_are_optional(imds: RunningImds) -> None:
    status, _, _ = request(imds, "GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": "bogus"})
    assert status == 401
    forged = token(imds)[:-2] + ("AA" if not token(imds).endswith("AA") else "BB")
    assert request(imds, "GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": forged})[0] == 401


def test_token_expires_after_its_ttl(imds: RunningImds) -> None:
    value = token(imds, "60")
    assert request(imds, "GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": value})[0] == 200
    imds.clock.advance(61)
    assert request(imds, "GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": value})[0] == 401


def test_token_dies_with_the_boot_it_was_issued_for(imds: RunningImds) -> None:
    value = token(imds)
    imds.update(boot="boot-2")  # stop + start
    assert request(imds, "GET", "/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": value})[0] == 401


def test_other_methods_are_405(imds: RunningImds) -> None:
    assert request(imds, "POST", "/latest/meta-data/instance-id")[0] == 405
    assert request(imds, "DELETE", "/latest/api/token")[0] == 405
    assert request(imds, "GET", "/latest/api/token")[0] == 405


# --- the tree ---------------------------------------------------------------------------------


def test_leaves_answer_instance_facts(imds: RunningImds) -> None:
    expected = {
        "instance-id": "i-0123456789abcdef0", "instance-type": "t3.micro", "ami-id": "ami-12345678",
        "local-ipv4": "172.31.5.9", "mac": "0e:12:34:56:78:9a", "placement/region": "us-east-1",
        "placement/availability-zone": "us-east-1a", "placement/availability-zone-id": "use1-az1",
        "local-hostname": "ip-172-31-5-9.ec2.internal", "reservation-id": "r-0123456789abcdef0",
    }
    for path, value in expected.items():
        status, headers, body = request(imds, "GET", f"/latest/meta-data/{path}")
        assert (status, body.decode()) == (200, value), path
        assert headers["content-type"] == "text/plain"


def test_listings_have_one_name_per_line_and_no_trailing_newline(imds: RunningImds) -> None:
    body = request(imds, "GET", "/latest/meta-data/")[2].decode()
    names = body.split("\n")
    assert not body.endswith("\n")
    assert {"ami-id", "instance-id", "iam/", "placement/", "local-ipv4", "mac"} <= set(names)
    assert "tags/" not in names  # InstanceMetadataTags is disabled
    assert request(imds, "GET", "/latest/meta-data/iam/")[2] == b"info\nsecurity-credentials/"
    assert request(imds, "GET", "/latest/meta-data/iam/security-credentials/")[2] == b"app-role"
    assert request(imds, "GET", "/latest/")[2] == b"dynamic\nmeta-data\nuser-data"


def test_iam_info_names_the_profile(imds: RunningImds) -> None:
    info = json.loads(request(imds, "GET", "/latest/meta-data/iam/info")[2])
    assert list(info) == ["Code", "LastUpdated", "InstanceProfileArn", "InstanceProfileId"]
    assert info["InstanceProfileArn"] == "arn:aws:iam::123456789012:instance-profile/app-profile"


def test_credentials_document_has_aws_keys_order_and_second_precision_times(imds: RunningImds) -> None:
    body = request(imds, "GET", "/latest/meta-data/iam/security-credentials/app-role")[2]
    document = json.loads(body)
    assert list(document) == ["Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"]
    assert document["Type"] == "AWS-HMAC"
    assert b'"Code" : "Success"' in body
    for key in ("LastUpdated", "Expiration"):
        assert len(document[key]) == 20 and document[key].endswith("Z")


def test_without_a_profile_the_iam_tree_is_absent(imds: RunningImds) -> None:
    imds.update(profile=None)
    for path in ("iam/", "iam/info", "iam/security-credentials/", "iam/security-credentials/app-role"):
        assert request(imds, "GET", f"/latest/meta-data/{path}")[0] == 404, path
    assert "iam/" not in request(imds, "GET", "/latest/meta-data/")[2].decode().split("\n")
    assert fetcher(imds).retrieve_iam_role_credentials() == {}


def test_unknown_paths_are_404_with_an_xhtml_page(imds: RunningImds) -> None:
    status, headers, body = request(imds, "GET", "/latest/meta-data/nope")
    assert status == 404 and b"<title>404 - Not Found</title>" in body
    assert headers["content-type"] == "text/html"
    assert request(imds, "GET", "/1999-01-01/meta-data/")[0] == 404
    assert request(imds, "GET", "/latest/meta-data/instance-id/extra")[0] == 404


def test_tags_are_served_only_when_enabled(imds: RunningImds) -> None:
    assert request(imds, "GET", "/latest/meta-data/tags/instance")[0] == 404
    imds.update(options=MetadataOptions(instance_metadata_tags="enabled"))
    assert request(imds, "GET", "/latest/meta-data/tags/instance")[2] == b"Name"
    assert request(imds, "GET", "/latest/meta-data/tags/instance/Name")[2] == b"web"


def test_user_data_is_served_verbatim_and_absent_without_any(imds: RunningImds) -> None:
    assert request(imds, "GET", "/latest/user-data")[2] == b"#!/bin/sh\necho hello\n"
    imds.update(user_data=None)
    assert request(imds, "GET", "/latest/user-data")[0] == 404


def test_dated_versions_serve_the_same_tree(imds: RunningImds) -> None:
    assert request(imds, "GET", "/2021-03-23/meta-data/instance-id")[2] == b"i-0123456789abcdef0"
    assert b"latest" in request(imds, "GET", "/")[2]


def test_head_has_no_body(imds: RunningImds) -> None:
    status, headers, body = request(imds, "HEAD", "/latest/meta-data/instance-id")
    assert status == 200 and body == b"" and headers["content-length"] == "19"


# --- the HTTP layer ---------------------------------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_connection(imds: RunningImds) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", imds.port, timeout=5)
    try:
        for _ in range(5):
            conn.request("GET", "/latest/meta-data/instance-id")
            resp = conn.getresponse()
            assert resp.read() == b"i-0123456789abcdef0"
    finally:
        conn.close()


def test_garbage_request_line_is_400() -> None:
    import socket

    for imds in running():
        with socket.create_connection(("127.0.0.1", imds.port), timeout=5) as sock:
            sock.sendall(b"NONSENSE\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 400 ")


def test_stop_closes_kept_alive_connections() -> None:
    imds = RunningImds().start()
    conn = http.client.HTTPConnection("127.0.0.1", imds.port, timeout=5)
    conn.request("GET", "/latest/meta-data/instance-id")
    assert conn.getresponse().read() == b"i-0123456789abcdef0"
    imds.stop()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/latest/meta-data/instance-id")
        conn.getresponse().read()
    conn.close()


def test_views_are_independent_per_instance() -> None:
    for other in running(view=make_view(instance_id="i-0fedcba9876543210", private_ip="172.31.9.10")):
        assert request(other, "GET", "/latest/meta-data/instance-id")[2] == b"i-0fedcba9876543210"
        assert request(other, "GET", "/latest/meta-data/local-ipv4")[2] == b"172.31.9.10"
