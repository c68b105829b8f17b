"""First start: the account, and an IAM user `admin` with AdministratorAccess and an access key.

The key's secret is stored encrypted with the master key; `keyless credentials` decrypts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from keyless import ids
from keyless.arn import iam_arn
from keyless.clock import Clock
from keyless.credentials import MasterKey, decrypt_secret, encrypt_secret, new_access_key
from keyless.store import iam as iam_store
from keyless.store.db import Database, get_meta, set_meta

ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"


@dataclass(frozen=True)
class AdminCredentials:
    access_key_id: str
    secret_access_key: str
    account_id: str
    endpoint: str | None
    region: str

    def __repr__(self) -> str:
        return f"AdminCredentials(access_key_id={self.access_key_id!r}, secret_access_key='***')"


def ensure_account(db: Database, master_key: MasterKey, account_id: str, clock: Clock) -> str:
    """Create the account and its admin on first start; return the account id in force."""
    with db.begin() as conn:
        existing = get_meta(conn, "account_id")
        if existing:
            return existing
        set_meta(conn, "account_id", account_id)
        user_id = ids.user_id()
        iam_store.insert_user(conn, id=user_id, account=account_id, name="admin", path="/",
                              arn=iam_arn(account_id, "user", "admin"), created=clock.time(), tags="[]")
        iam_store.attach_policy(conn, "user", user_id, ADMIN_POLICY_ARN)
        key_id, secret = new_access_key()
        iam_store.insert_access_key(conn, access_key_id=key_id, user_id=user_id,
                                    secret=encrypt_secret(secret, master_key), status="Active", created=clock.time())
        set_meta(conn, "admin_access_key_id", key_id)
    return account_id


def load_admin_credentials(data_dir: Path, region: str | None = None) -> AdminCredentials:
    db = Database.open(data_dir)
    try:
        master_key = MasterKey.load_or_create(data_dir)
        with db.read() as conn:
            key_id = get_meta(conn, "admin_access_key_id")
            account = get_meta(conn, "account_id")
            endpoint = get_meta(conn, "endpoint")
            stored_region = get_meta(conn, "region")
            key = iam_store.get_access_key(conn, key_id) if key_id else None
        if not key or not account:
            raise FileNotFoundError(f"no keyless account in {data_dir}: start `keyless server` once first")
        return AdminCredentials(key_id, decrypt_secret(key["secret"], master_key), account, endpoint,
                                region or stored_region or "us-east-1")
    finally:
        db.close()
