"""The instance identity document and its signatures, signed with a per-account RSA key.

AWS signs with keys whose certificates it publishes; keyless can only sign with its own, so
each account gets an RSA-2048 key (data dir, mode 0600) and a self-signed certificate next to
it (`keyless instances --identity-certificate` prints it) to verify with:

    openssl smime -verify -binary -inform DER -in <(base64 -d rsa2048) -content document \
        -certfile keyless-identity.crt -noverify

Both PKCS#7 variants are SHA-256/RSA here (AWS's `pkcs7` is SHA-1/DSA, which the cryptography
package cannot produce); `signature` is a bare RSA-SHA256 PKCS#1 v1.5 signature, as AWS's is.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from keyless.imds.model import InstanceView, imds_json, iso
from keyless.imds.tree import b64_lines


class IdentitySigner:
    def __init__(self, data_dir: Path, account: str) -> None:
        self.key_path = data_dir / f"imds-identity-{account}.pem"
        self.cert_path = data_dir / f"imds-identity-{account}.crt"
        self._key = _load_or_create_key(self.key_path)
        self._cert = _load_or_create_certificate(self.cert_path, self._key, account)

    @property
    def certificate_pem(self) -> str:
        return self._cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def documents(self, view: InstanceView) -> dict[str, str]:
        """dynamic/instance-identity/: the document and its three signatures."""
        document = imds_json(identity_document(view))
        signature = self._key.sign(document, padding.PKCS1v15(), hashes.SHA256())
        signed = self._pkcs7(document)
        return {"document": document.decode(), "signature": b64_lines(signature),
                "pkcs7": b64_lines(signed), "rsa2048": b64_lines(signed)}

    def _pkcs7(self, document: bytes) -> bytes:
        options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCerts]
        builder = pkcs7.PKCS7SignatureBuilder().set_data(document).add_signer(self._cert, self._key, hashes.SHA256())
        return builder.sign(serialization.Encoding.DER, options)


def identity_document(view: InstanceView) -> dict[str, object]:
    """Fields and order as AWS serves them [iid]."""
    return {
        "accountId": view.account,
        "architecture": "x86_64",
        "availabilityZone": view.availability_zone,
        "billingProducts": None,
        "devpayProductCodes": None,
        "marketplaceProductCodes": None,
        "imageId": view.image_id,
        "instanceId": view.instance_id,
        "instanceType": view.instance_type,
        "kernelId": None,
        "pendingTime": iso(view.launch_time),
        "privateIp": view.private_ip,
        "ramdiskId": None,
        "region": view.region,
        "version": "2017-09-30",
    }


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA key")
    return loaded


def _load_or_create_certificate(path: Path, key: rsa.RSAPrivateKey, account: str) -> x509.Certificate:
    if path.exists():
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        if cert.public_key() == key.public_key():
            return cert
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "keyless"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"keyless instance identity {account}")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert
