"""Self-contained session tokens: temporary credentials that any node holding the master key can
verify without reading the database.

A token is url-safe base64 (no padding) of

    version (1 byte) | key id (4 bytes) | nonce (12 bytes) | AES-GCM( zlib( JSON claims ) )

with the version and key id as associated data. The claims carry the session's secret access key,
so the SigV4 verifier gets the secret from the token itself. Any change to any character of the
token, a truncation, or another master key makes `open_session` raise InvalidClientTokenId.
Expiry is not checked here: the caller compares `expiration` with its clock.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import zlib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal, Mapping

from cryptography.exceptions import InvalidTag

from keyless import errors
from keyless.credentials.master_key import MasterKey

PrincipalType = Literal["AssumedRole", "User", "FederatedUser"]

TOKEN_VERSION = 1
_HEADER_BYTES = 1 + 4
_NONCE_BYTES = 12
_MAX_TOKEN_CHARS = 16 * 1024
_MAX_CLAIMS_BYTES = 256 * 1024  # decompressed; a bound against zip bombs in a forged-but-valid token
_INVALID = "The security token included in the request is invalid."


@dataclass(frozen=True)
class SessionClaims:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    expiration: float  # epoch seconds
    issued_at: float
    account: str
    principal_type: PrincipalType
    principal_arn: str  # assumed-role session ARN, user ARN or federated-user ARN
    role_arn: str | None = None
    role_id: str | None = None  # AROA...
    role_name: str | None = None
    session_name: str | None = None
    user_id: str | None = None  # AIDA... for GetSessionToken / federation
    source_identity: str | None = None
    session_tags: dict[str, str] = field(default_factory=dict)
    session_policy: str | None = None  # inline session policy text
    policy_arns: tuple[str, ...] = ()
    mfa: bool = False
    ec2: dict[str, str] | None = None  # instance sessions: source instance ARN, role delivery, private ip, vpc
    key_version: int = 1  # master key version that sealed the token

    def is_expired(self, now: float) -> bool:
        """Past its expiration: the caller answers ExpiredToken ("The security token included in the
        request is expired")."""
        return now >= self.expiration


# Short JSON names keep tokens compact; the table is the wire schema of TOKEN_VERSION 1.
_WIRE_NAMES = {
    "access_key_id": "k", "secret_access_key": "s", "expiration": "e", "issued_at": "i",
    "account": "a", "principal_type": "t", "principal_arn": "p", "role_arn": "ra", "role_id": "ri",
    "role_name": "rn", "session_name": "sn", "user_id": "u", "source_identity": "si",
    "session_tags": "tg", "session_policy": "sp", "policy_arns": "pa", "mfa": "m", "ec2": "x",
    "key_version": "v",
}
_FIELD_NAMES = {wire: name for name, wire in _WIRE_NAMES.items()}


def mint_session(claims: SessionClaims, master_key: MasterKey) -> str:
    """Seal the claims into an opaque session token."""
    claims = replace(claims, key_version=master_key.version)
    header = bytes([TOKEN_VERSION]) + master_key.key_id
    nonce = os.urandom(_NONCE_BYTES)
    sealed = master_key.session_cipher.encrypt(nonce, zlib.compress(_to_json(claims), 9), header)
    return base64.urlsafe_b64encode(header + nonce + sealed).rstrip(b"=").decode("ascii")


def open_session(token: str, master_key: MasterKey, *, access_key_id: str | None = None) -> SessionClaims:
    """The claims sealed in `token`; InvalidClientTokenId for anything not minted with this key, or
    (when `access_key_id` is given, as signed in the request) for a token of another key.

    Results are cached (failures are not); treat the returned claims, dicts included, as read-only.
    """
    claims = _open(token, master_key)
    if access_key_id is not None and not hmac.compare_digest(claims.access_key_id, access_key_id):
        raise errors.InvalidClientTokenId(_INVALID)
    return claims


@lru_cache(maxsize=2048)  # every request signed with session credentials opens its token
def _open(token: str, master_key: MasterKey) -> SessionClaims:
    raw = _decode_token(token)
    header, nonce, sealed = raw[:_HEADER_BYTES], raw[_HEADER_BYTES:_HEADER_BYTES + _NONCE_BYTES], raw[_HEADER_BYTES + _NONCE_BYTES:]
    if len(raw) <= _HEADER_BYTES + _NONCE_BYTES or header[0] != TOKEN_VERSION or header[1:] != master_key.key_id:
        raise errors.InvalidClientTokenId(_INVALID)
    try:
        compressed = master_key.session_cipher.decrypt(nonce, sealed, header)
        inflater = zlib.decompressobj()
        plain = inflater.decompress(compressed, _MAX_CLAIMS_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("claims too large or truncated")
        return _from_json(plain)
    except (InvalidTag, ValueError, TypeError, KeyError, zlib.error) as exc:
        raise errors.InvalidClientTokenId(_INVALID) from exc


def _decode_token(token: str) -> bytes:
    if not token or len(token) > _MAX_TOKEN_CHARS or not token.isascii():
        raise errors.InvalidClientTokenId(_INVALID)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise errors.InvalidClientTokenId(_INVALID) from exc
    # Only the canonical spelling is accepted: base64 ignores stray characters and the unused low
    # bits of the last one, and a changed character must never open as the same token.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        raise errors.InvalidClientTokenId(_INVALID)
    return raw


def _to_json(claims: SessionClaims) -> bytes:
    wire: dict[str, Any] = {}
    for name, short in _WIRE_NAMES.items():
        value = getattr(claims, name)
        if value is None or value == () or value == {} or value is False:
            continue  # defaults are left out
        wire[short] = list(value) if isinstance(value, tuple) else value
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _from_json(plain: bytes) -> SessionClaims:
    wire = json.loads(plain)
    if not isinstance(wire, dict):
        raise ValueError("claims are not an object")
    values: dict[str, Any] = {_FIELD_NAMES[short]: value for short, value in wire.items()}
    if "policy_arns" in values:
        values["policy_arns"] = tuple(values["policy_arns"])
    _check_types(values)
    return SessionClaims(**values)


def _check_types(values: Mapping[str, Any]) -> None:
    for name in ("access_key_id", "secret_access_key", "account", "principal_type", "principal_arn"):
        if not isinstance(values.get(name), str):
            raise ValueError(f"claim {name} missing")
    for name in ("expiration", "issued_at"):
        if not isinstance(values.get(name), (int, float)):
            raise ValueError(f"claim {name} missing")
