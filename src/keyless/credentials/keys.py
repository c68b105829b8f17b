"""Access keys, and the secrets the database keeps encrypted at rest."""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag

from keyless import ids
from keyless.credentials.master_key import MasterKey

# A stored secret: "v1:" + url-safe base64 of nonce (12 bytes) + AES-GCM ciphertext and tag.
_AT_REST_PREFIX = "v1:"
_AT_REST_AAD = b"keyless/secret-at-rest/v1"
_NONCE_BYTES = 12


class SecretDecryptionError(Exception):
    """A stored secret that this master key cannot open (wrong key, or a corrupted row)."""


def new_access_key(temporary: bool = False) -> tuple[str, str]:
    """A fresh (access key id, secret access key): AKIA... for users, ASIA... for sessions."""
    return ids.access_key_id(temporary), ids.secret_access_key()


def encrypt_secret(plaintext: str, master_key: MasterKey) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = master_key.secrets_cipher.encrypt(nonce, plaintext.encode("utf-8"), _AT_REST_AAD)
    return _AT_REST_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def decrypt_secret(stored: str, master_key: MasterKey) -> str:
    if not stored.startswith(_AT_REST_PREFIX):
        raise SecretDecryptionError("unknown stored secret format")
    encoded = stored[len(_AT_REST_PREFIX):]
    try:
        blob = base64.urlsafe_b64decode(encoded)
        if base64.urlsafe_b64encode(blob).decode("ascii") != encoded:  # only the canonical spelling
            raise ValueError("non-canonical base64")
        plain = master_key.secrets_cipher.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _AT_REST_AAD)
        return plain.decode("utf-8")
    except (InvalidTag, ValueError, binascii.Error) as exc:
        raise SecretDecryptionError("the stored secret does not open with this master key") from exc
