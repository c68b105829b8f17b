"""The rotation schedule: its invariants under any request pattern, and botocore's own refreshing
credentials riding it for a simulated day on a moved clock."""

from __future__ import annotations

import datetime as dt
from typing import Iterator

import pytest
from botocore.credentials import InstanceMetadataProvider
from botocore.utils import InstanceMetadataFetcher
from hypothesis import example, given
from hypothesis import strategies as st

from imds_harness import RunningImds, running
from keyless.clock import Clock
from keyless.imds.rotation import FRESH_FOR, MIN_LIFETIME, CredentialSet, Schedule, Vendor

TEN_MINUTES = 600
FIFTEEN_MINUTES = 900


def _minting_vendor(schedule: Schedule) -> tuple[Clock, Vendor, list[CredentialSet]]:
    clock = Clock()
    return clock, Vendor(clock, schedule), []


def _mint(minted: list[CredentialSet]):  # type: ignore[no-untyped-def]
    def mint(now: float, lifetime: int) -> CredentialSet:
        cs = CredentialSet(f"ASIA{len(minted):016d}", "s", "t", now, now + lifetime)
        minted.append(cs)
        return cs
    return mint


schedules = st.builds(
    lambda lifetime, fraction: Schedule(lifetime, max(60, int(lifetime * fraction))),
    st.integers(MIN_LIFETIME, 12 * 3600), st.floats(0.01, 1.0),
)


@given(schedules, st.lists(st.integers(0, 4 * 3600), min_size=1, max_size=60))
@example(Schedule(6 * 3600, 3600), [0, 3599, 1, 20000])
@example(Schedule(MIN_LIFETIME, 60), [0, 10, 290, 600])
def test_served_sets_always_have_the_fresh_margin_left(schedule: Schedule, gaps: list[int]) -> None:
    clock, vendor, minted = _minting_vendor(schedule)
    for gap in gaps:
        clock.advance(gap)
        cs, _ = vendor.current("i-1", "2.0", "assoc", _mint(minted))
        remaining = cs.expiration - clock.time()
        # Never a set with under 10 minutes left; with a lifetime that allows it, never under 25.
        assert remaining >= TEN_MINUTES
        assert remaining >= min(FRESH_FOR, schedule.lifetime) - 1
        assert clock.time() - cs.issued_at < schedule.interval or cs.issued_at == clock.time()


@given(schedules, st.integers(0, 3600), st.integers(1, 5))
def test_a_client_refreshing_at_its_advisory_window_gets_a_set_outside_it(schedule: Schedule, start: int, rounds: int) -> None:
    """botocore keeps a set until 15 minutes before expiry, then fetches: what it fetches must not
    already be inside that window, or it would refresh on every call."""
    clock, vendor, minted = _minting_vendor(schedule)
    clock.advance(start)
    held, _ = vendor.current("i-1", "2.0", "assoc", _mint(minted))
    for _ in range(rounds):
        clock.advance(max(0.0, held.expiration - FIFTEEN_MINUTES - clock.time()))
        fetched, _ = vendor.current("i-1", "2.0", "assoc", _mint(minted))
        remaining = fetched.expiration - clock.time()
        assert remaining >= min(FRESH_FOR, schedule.lifetime) - 1
        if schedule.lifetime > FIFTEEN_MINUTES:  # at the 15-minute minimum lifetime every call refreshes
            assert remaining > FIFTEEN_MINUTES
        held = fetched


def test_default_schedule_rotates_hourly_and_sets_live_six_hours() -> None:
    clock, vendor, minted = _minting_vendor(Schedule())
    first, fresh = vendor.current("i-1", "2.0", "assoc", _mint(minted))
    assert fresh and first.expiration - first.issued_at == 6 * 3600
    clock.advance(3599)
    assert vendor.current("i-1", "2.0", "assoc", _mint(minted))[0] is first
    clock.advance(1)
    second, fresh = vendor.current("i-1", "2.0", "assoc", _mint(minted))
    assert fresh and second is not first


def test_identity_change_mints_at_once_and_delivery_versions_are_separate() -> None:
    clock, vendor, minted = _minting_vendor(Schedule())
    a, _ = vendor.current("i-1", "2.0", ("assoc-1", "role-a"), _mint(minted))
    b, _ = vendor.current("i-1", "2.0", ("assoc-2", "role-b"), _mint(minted))
    v1, _ = vendor.current("i-1", "1.0", ("assoc-2", "role-b"), _mint(minted))
    assert len({a.access_key_id, b.access_key_id, v1.access_key_id}) == 3
    vendor.forget("i-1")
    assert vendor.last_issued("i-1") is None


@pytest.mark.parametrize("lifetime, interval", [(899, 60), (43201, 3600), (3600, 59), (3600, 3601)])
def test_schedule_refuses_impossible_settings(lifetime: int, interval: int) -> None:
    with pytest.raises(ValueError):
        Schedule(lifetime, interval)


# --- botocore's RefreshableCredentials on the moved clock ---------------------------------------


@pytest.fixture
def imds() -> Iterator[RunningImds]:
    yield from running()


def test_botocore_refreshing_credentials_survive_a_day_of_rotations(imds: RunningImds, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore reads the time in two places: its refresh windows (credentials' time_fetcher) and
    the static-stability check (utils.get_current_datetime). Both follow the test's clock."""
    import botocore.utils

    def naive_utc() -> dt.datetime:
        return dt.datetime.fromtimestamp(imds.clock.time(), tz=dt.timezone.utc).replace(tzinfo=None)

    monkeypatch.setattr(botocore.utils, "get_current_datetime", naive_utc)
    fetcher = InstanceMetadataFetcher(timeout=2, num_attempts=1, base_url=imds.url, env={})
    creds = InstanceMetadataProvider(iam_role_fetcher=fetcher).load()
    creds._time_fetcher = lambda: dt.datetime.fromtimestamp(imds.clock.time(), tz=dt.timezone.utc)
    used = []
    for _ in range(24 * 6):  # a day, ten minutes at a time
        frozen = creds.get_frozen_credentials()
        # What the server would check: the key is one it issued and it has not expired.
        assert imds.source.expiration_of(frozen.access_key) > imds.clock.time()
        used.append(frozen.access_key)
        imds.clock.advance(600)
    assert len(set(used)) >= 3  # it really rotated, several times
