"""When an instance gets a new credential set: AWS's schedule, bent to the SDKs' refresh rules.

AWS issues a set that lives about six hours and publishes a new one about hourly [roles]. The
SDKs add two constraints (imds.md §3-4):
  * botocore refreshes 15 minutes before expiry (advisory) and blocks at 10 (mandatory); if the
    refresh brings back a set inside those windows it refreshes again on every call, and a set
    already expired makes it raise.
  * botocore's static-stability check rewrites the expiry of a set with less than 12-20 minutes
    left to now + that offset, so a nearly dead set is then believed alive for longer than it is.
So a set is served only while it has FRESH_FOR (25 minutes) or more left: the next one is always
published at least 25 minutes before the current one expires, and no set is ever served with less
than 10 minutes left. With a lifetime under 25 minutes every fetch gets a fresh set.

Sets are made lazily, on the first request after the schedule says so: nothing runs in the
background, and an idle instance mints nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Hashable

from keyless.clock import Clock

FRESH_FOR = 25 * 60
MIN_LIFETIME = 900  # STS's minimum session duration
MAX_LIFETIME = 12 * 3600  # STS's maximum for a role session
MIN_INTERVAL = 60


@dataclass(frozen=True)
class CredentialSet:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    token: str = field(repr=False)
    issued_at: float
    expiration: float


@dataclass(frozen=True)
class Schedule:
    lifetime: int = 6 * 3600
    interval: int = 3600

    def __post_init__(self) -> None:
        if not MIN_LIFETIME <= self.lifetime <= MAX_LIFETIME:
            raise ValueError(f"IMDS credential lifetime must be {MIN_LIFETIME}..{MAX_LIFETIME} seconds, not {self.lifetime}")
        if not MIN_INTERVAL <= self.interval <= self.lifetime:
            raise ValueError(f"IMDS rotation interval must be {MIN_INTERVAL}..{self.lifetime} seconds, not {self.interval}")

    def due(self, current: CredentialSet, now: float) -> bool:
        """True when `current` may no longer be served and a new set must be published."""
        return now >= current.issued_at + self.interval or current.expiration - now < FRESH_FOR


Mint = Callable[[float, int], CredentialSet]  # (now, lifetime) -> a new set


class Vendor:
    """The current set per (instance, delivery version), replaced on schedule or when the identity
    behind it (association, role) changes. Used from the event loop only: no locks."""

    def __init__(self, clock: Clock, schedule: Schedule) -> None:
        self.clock = clock
        self.schedule = schedule
        self._sets: dict[tuple[str, str], tuple[Hashable, CredentialSet]] = {}

    def current(self, instance_id: str, delivery: str, identity: Hashable, mint: Mint) -> tuple[CredentialSet, bool]:
        """The set to serve now, and whether it was just minted."""
        now = self.clock.time()
        held = self._sets.get((instance_id, delivery))
        if held is not None and held[0] == identity and not self.schedule.due(held[1], now):
            return held[1], False
        fresh = mint(now, self.schedule.lifetime)
        self._sets[(instance_id, delivery)] = (identity, fresh)
        return fresh, True

    def last_issued(self, instance_id: str) -> float | None:
        times = [held[1].issued_at for key, held in self._sets.items() if key[0] == instance_id]
        return max(times) if times else None

    def forget(self, instance_id: str) -> None:
        """The instance stopped: its next boot starts with new sets."""
        for key in [k for k in self._sets if k[0] == instance_id]:
            del self._sets[key]
