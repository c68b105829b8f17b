from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from keyless.credentials import (
    MasterKey,
    MasterKeyError,
    SecretDecryptionError,
    decrypt_secret,
    encrypt_secret,
    new_access_key,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_master_key_created_private_and_reloaded(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = MasterKey.load_or_create(data_dir)
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "master.key") == 0o600
    assert (data_dir / "master.key").read_bytes() == key.key
    assert len(key.key) == 32
    assert MasterKey.load_or_create(data_dir).key == key.key
    assert [p.name for p in data_dir.iterdir()] == ["master.key"]  # no temporary file left behind


def test_master_key_in_existing_dir_keeps_its_mode(tmp_path: Path) -> None:
    key = MasterKey.load_or_create(tmp_path)
    assert _mode(tmp_path / "master.key") == 0o600
    assert len(key.key) == 32


def test_master_key_too_open_file_is_restricted(tmp_path: Path) -> None:
    MasterKey.load_or_create(tmp_path)
    os.chmod(tmp_path / "master.key", 0o644)
    MasterKey.load_or_create(tmp_path)
    assert _mode(tmp_path / "master.key") == 0o600


def test_master_key_wrong_size_is_refused(tmp_path: Path) -> None:
    (tmp_path / "master.key").write_bytes(b"short")
    with pytest.raises(MasterKeyError):
        MasterKey.load_or_create(tmp_path)


def test_master_key_repr_hides_key() -> None:
    key = MasterKey.generate()
    text = repr(key)
    assert key.key.hex() not in text and repr(key.key) not in text
    assert "***" in text


def test_new_access_keys_have_aws_shapes() -> None:
    akid, secret = new_access_key()
    assert akid.startswith("AKIA") and len(akid) == 20 and akid.isupper()
    assert len(secret) == 40
    temp_id, _ = new_access_key(temporary=True)
    assert temp_id.startswith("ASIA") and len(temp_id) == 20
    assert new_access_key() != new_access_key()


def test_secret_at_rest_round_trip_and_not_plain() -> None:
    key = MasterKey.generate()
    stored = encrypt_secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", key)
    assert "wJalr" not in stored
    assert decrypt_secret(stored, key) == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert encrypt_secret("same", key) != encrypt_secret("same", key)  # random nonce


def test_secret_at_rest_wrong_key_or_tampering_fails() -> None:
    key = MasterKey.generate()
    stored = encrypt_secret("secret", key)
    with pytest.raises(SecretDecryptionError):
        decrypt_secret(stored, MasterKey.generate())
    for i in range(len("v1:"), len(stored)):
        if stored[i] == "=":
            continue
        flipped = stored[:i] + ("A" if stored[i] != "A" else "B") + stored[i + 1:]
        with pytest.raises(SecretDecryptionError):
            decrypt_secret(flipped, key)
    with pytest.raises(SecretDecryptionError):
        decrypt_secret("plain-text-secret", key)
