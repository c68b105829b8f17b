"""Everything a running server holds: settings, store, keys, caches, services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keyless.auth.authenticate import Authenticator
from keyless.auth.policies import PolicyResolver
from keyless.clock import Clock
from keyless.config import Settings
from keyless.credentials import MasterKey
from keyless.services.base import Service
from keyless.store.db import Database


@dataclass
class AppState:
    settings: Settings
    db: Database
    master_key: MasterKey
    clock: Clock
    authenticator: Authenticator
    policies: PolicyResolver
    services: dict[str, Service]
    # Long-lived parts started in the lifespan (IMDS listeners, trail recorder) register here.
    components: dict[str, Any] = field(default_factory=dict)
