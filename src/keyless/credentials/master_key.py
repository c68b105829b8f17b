"""The master key: 32 random bytes in DATA_DIR/master.key (mode 0600), the root of every secret
keyless keeps. Two keys are derived from it (HKDF-SHA256, one per purpose) so that a value sealed
for one purpose can never be opened as the other: secrets at rest in the database, and session
tokens handed to clients.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

KEY_FILE = "master.key"
KEY_BYTES = 32


class MasterKeyError(Exception):
    """The master key file exists but cannot be used (wrong size, unreadable)."""


def _derive(key: bytes, purpose: bytes) -> AESGCM:
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"keyless/" + purpose)
    return AESGCM(kdf.derive(key))


@dataclass(frozen=True)
class MasterKey:
    key: bytes = field(repr=False)
    version: int = 1  # bumps when the key rotates; tokens record the version that sealed them
    # Derived ciphers, built once: AES-GCM objects are cheap to reuse and thread-safe.
    secrets_cipher: AESGCM = field(init=False, repr=False, compare=False)
    session_cipher: AESGCM = field(init=False, repr=False, compare=False)
    key_id: bytes = field(init=False, repr=False, compare=False)  # 4 bytes naming the key inside tokens

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise MasterKeyError(f"a master key is {KEY_BYTES} bytes, got {len(self.key)}")
        object.__setattr__(self, "secrets_cipher", _derive(self.key, b"secrets-at-rest"))
        object.__setattr__(self, "session_cipher", _derive(self.key, b"session-tokens"))
        object.__setattr__(self, "key_id", hashlib.sha256(b"keyless/key-id" + self.key).digest()[:4])

    def __repr__(self) -> str:
        return f"MasterKey(version={self.version}, key_id={self.key_id.hex()}, key=***)"

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def load_or_create(cls, data_dir: Path) -> MasterKey:
        """Read DATA_DIR/master.key, creating the directory (0700) and the key (0600) on first use."""
        data_dir = Path(data_dir)
        if not data_dir.exists():
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = data_dir / KEY_FILE
        if not path.exists():
            _create_key_file(path)
        return cls(_read_key_file(path))


def _create_key_file(path: Path) -> None:
    """Write a fresh key so that no process ever sees a partial file: the bytes go to a private
    temporary file (O_CREAT|O_EXCL, 0600), which is then hard-linked into place. If another
    process won the race, its key stands and ours is dropped."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def _read_key_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s was readable by others (mode %o); restricting it to 0600", path, mode)
        os.chmod(path, 0o600)
    data = path.read_bytes()
    if len(data) != KEY_BYTES:
        raise MasterKeyError(f"{path} holds {len(data)} bytes, expected a {KEY_BYTES}-byte key")
    return data
