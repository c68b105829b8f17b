"""Settings from flags and KEYLESS_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 5397
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


def default_data_dir() -> Path:
    env = os.environ.get("KEYLESS_DATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "keyless"


def default_endpoint() -> str:
    return os.environ.get("KEYLESS_ENDPOINT") or f"http://127.0.0.1:{os.environ.get('KEYLESS_PORT', DEFAULT_PORT)}"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = field(default_factory=lambda: int(os.environ.get("KEYLESS_PORT", DEFAULT_PORT)))
    account_id: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    enforce: str = "on"  # on | learn | off
    imds_credential_lifetime: int = 6 * 3600
    imds_rotation_interval: int = 3600
    trail: bool = True  # record every call (off only to measure what recording costs)
    trail_retention_days: float = 90.0  # like CloudTrail's event history
    lookup_data_events: bool = False  # CloudTrail's LookupEvents returns management events only

    @property
    def endpoint(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"
