"""The instance identity document and its signatures, checked with cryptography and openssl."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from imds_harness import RunningImds, running
from keyless.imds.identity import IdentitySigner


@pytest.fixture
def signer(tmp_path: Path) -> IdentitySigner:
    return IdentitySigner(tmp_path, "123456789012")


@pytest.fixture
def imds(signer: IdentitySigner) -> Iterator[RunningImds]:
    yield from running(identity=signer.documents)


def get(imds: RunningImds, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", imds.port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        assert resp.status == 200, path
        return resp.read()
    finally:
        conn.close()


def test_document_has_aws_fields_in_order(imds: RunningImds) -> None:
    document = json.loads(get(imds, "/latest/dynamic/instance-identity/document"))
    assert list(document) == ["accountId", "architecture", "availabilityZone", "billingProducts", "devpayProductCodes",
                              "marketplaceProductCodes", "imageId", "instanceId", "instanceType", "kernelId",
                              "pendingTime", "privateIp", "ramdiskId", "region", "version"]
    assert document["instanceId"] == "i-0123456789abcdef0" and document["privateIp"] == "172.31.5.9"
    assert document["pendingTime"] == "2023-11-14T22:13:20Z" and document["version"] == "2017-09-30"
    listing = get(imds, "/latest/dynamic/instance-identity/").decode().split("\n")
    assert sorted(listing) == ["document", "pkcs7", "rsa2048", "signature"]


def test_signature_verifies_with_the_account_certificate(imds: RunningImds, signer: IdentitySigner) -> None:
    document = get(imds, "/latest/dynamic/instance-identity/document")
    signature = base64.b64decode(get(imds, "/latest/dynamic/instance-identity/signature"))
    cert = x509.load_pem_x509_certificate(signer.certificate_pem.encode())
    cert.public_key().verify(signature, document, padding.PKCS1v15(), hashes.SHA256())  # raises if forged
    with pytest.raises(Exception):
        cert.public_key().verify(signature, document.replace(b"t3.micro", b"t3.large"), padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_rsa2048_pkcs7_verifies_with_openssl(imds: RunningImds, signer: IdentitySigner, tmp_path: Path) -> None:
    (tmp_path / "document").write_bytes(get(imds, "/latest/dynamic/instance-identity/document"))
    (tmp_path / "rsa2048.der").write_bytes(base64.b64decode(get(imds, "/latest/dynamic/instance-identity/rsa2048")))
    proc = subprocess.run(
        ["openssl", "smime", "-verify", "-binary", "-inform", "DER", "-in", "rsa2048.der", "-content", "document",
         "-certfile", str(signer.cert_path), "-noverify"],
        cwd=tmp_path, capture_output=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"Verification successful" in proc.stderr


def test_key_is_private_to_its_owner_and_reused(tmp_path: Path) -> None:
    first = IdentitySigner(tmp_path, "123456789012")
    assert stat.S_IMODE(os.stat(first.key_path).st_mode) == 0o600
    again = IdentitySigner(tmp_path, "123456789012")
    assert again.certificate_pem == first.certificate_pem
    other = IdentitySigner(tmp_path, "210987654321")
    assert other.certificate_pem != first.certificate_pem
