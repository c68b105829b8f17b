"""Credentials: the master key, access keys, secrets at rest and self-contained session tokens.

    MasterKey.load_or_create(data_dir)          DATA_DIR/master.key, 0600
    encrypt_secret / decrypt_secret            AES-GCM for secrets stored in the database
    new_access_key(temporary=False)            (AKIA.../ASIA..., 40-char secret)
    mint_session(claims, key) -> token         SessionClaims sealed with AES-GCM
    open_session(token, key) -> SessionClaims  InvalidClientTokenId on any tampering
"""

from __future__ import annotations

from keyless.credentials.keys import SecretDecryptionError, decrypt_secret, encrypt_secret, new_access_key
from keyless.credentials.master_key import MasterKey, MasterKeyError
from keyless.credentials.sessions import PrincipalType, SessionClaims, mint_session, open_session

__all__ = [
    "MasterKey",
    "MasterKeyError",
    "PrincipalType",
    "SecretDecryptionError",
    "SessionClaims",
    "decrypt_secret",
    "encrypt_secret",
    "mint_session",
    "new_access_key",
    "open_session",
]
