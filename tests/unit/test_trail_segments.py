"""Trail queries over segments: whatever the batching (and overlapping time spans between
batches), paging newest first or oldest first with any filter returns exactly the events a
plain filter over all of them would, in order, each once."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyless.store import trail as trail_store
from keyless.store.db import Database

ACCOUNT = "123456789012"
USERS = [("User", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/{n}", "AIDA" + n.upper(), f"arn:aws:iam::{ACCOUNT}:user/{n}", n,
          "AKIA" + n.upper(), "AIDA" + n.upper()) for n in ("ann", "bob")]
SESSION = ("AssumedRole", ACCOUNT, f"arn:aws:sts::{ACCOUNT}:assumed-role/app/i-1", "AROAAPP:i-1", f"arn:aws:iam::{ACCOUNT}:role/app",
           None, "ASIAAPP", "AROAAPP", 1_790_000_000.0, False, None, "ec2:RoleDelivery")
CALLERS = USERS + [SESSION]
OPERATIONS = [("iam", "GetRole"), ("iam", "CreateRole"), ("s3", "GetObject"), ("sts", "GetCallerIdentity")]

event = st.tuples(st.integers(0, 40), st.sampled_from(range(len(CALLERS))), st.sampled_from(range(len(OPERATIONS))),
                  st.booleans())


def _pending(n: int, tick: int, who: int, what: int, denied: bool) -> tuple[object, ...]:
    service, operation = OPERATIONS[what]
    resource = f"arn:aws:s3:::b/k{tick % 3}" if service == "s3" else f"arn:aws:iam::{ACCOUNT}:role/r{tick % 2}"
    decision = (f"{service}:{operation}", resource, "implicitDeny" if denied else "allowed", "why")
    return (1_790_000_000.0 + tick / 10, service, operation, "us-east-1", ACCOUNT, f"req-{n}", CALLERS[who], "127.0.0.1",
            "ua", {}, None, None, None, (decision,), "on")


FILTERS = [
    ({}, lambda e: True),
    ({"attribute": ("EventName", "GetRole")}, lambda e: e[2] == "GetRole"),
    ({"attribute": ("Username", "i-1")}, lambda e: e[6] is SESSION),
    ({"attribute": ("ReadOnly", "false")}, lambda e: e[2] == "CreateRole"),
    ({"attribute": ("ResourceType", "AWS::S3::Object")}, lambda e: e[1] == "s3"),
    ({"attribute": ("ResourceName", f"arn:aws:iam::{ACCOUNT}:role/r1")}, lambda e: e[1] != "s3" and e[13][0][1].endswith("r1")),
    ({"principal_arn": f"arn:aws:iam::{ACCOUNT}:role/app"}, lambda e: e[6] is SESSION),
    ({"denied_only": True}, lambda e: e[13][0][2] != "allowed"),
    ({"categories": ("Management",)}, lambda e: e[1] != "s3"),
    ({"start": 1_790_000_001.0, "end": 1_790_000_002.5}, lambda e: 1_790_000_001.0 <= e[0] <= 1_790_000_002.5),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.lists(event, min_size=1, max_size=8), min_size=1, max_size=8),
       which=st.sampled_from(range(len(FILTERS))), page=st.integers(1, 7), oldest_first=st.booleans())
def test_paged_queries_match_a_plain_filter(batches: list[list[tuple[int, int, int, bool]]], which: int,
                                            page: int, oldest_first: bool) -> None:
    pending = [_pending(n, *e) for n, e in enumerate(e for batch in batches for e in batch)]
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(Path(tmp))
        with db.begin(iam=False) as conn:  # ticks are random, so the batches' time spans overlap
            done = 0
            for batch in batches:
                assert trail_store.insert(conn, pending[done:done + len(batch)]) == len(batch)
                done += len(batch)
        with db.read() as conn:
            ids = {r["event_id"]: r for r in trail_store.query(conn, limit=10_000)}
            by_request = {_request_id(r): r for r in ids.values()}
            kwargs, keep = FILTERS[which]
            expected = sorted(((p[0], by_request[p[5]]["event_id"]) for p in pending if keep(p)), reverse=not oldest_first)
            got: list[tuple[float, str]] = []
            cursor = None
            while True:
                cursor_arg = {"after" if oldest_first else "before": cursor} if cursor else {}
                rows = trail_store.query(conn, limit=page, oldest_first=oldest_first, **kwargs, **cursor_arg)  # type: ignore[arg-type]
                got += [(r["event_time"], r["event_id"]) for r in rows]
                if len(rows) < page:
                    break
                cursor = got[-1]
        db.close()
    assert len(ids) == len(pending)  # every event has its own id
    assert got == expected


def _request_id(row: dict[str, object]) -> str:
    import json

    return str(json.loads(str(row["record"]))["requestID"])


def test_an_event_is_found_by_its_id(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    with db.begin(iam=False) as conn:
        for start in (0, 5, 10):
            trail_store.insert(conn, [_pending(n, n, n % 3, n % 4, False) for n in range(start, start + 5)])
    with db.read() as conn:
        rows = trail_store.query(conn, limit=100)
        for row in rows:
            (found,) = trail_store.query(conn, attribute=("EventId", row["event_id"]))
            assert found["record"] == row["record"]
        assert trail_store.query(conn, attribute=("EventId", "00000000-0000-7000-8000-000000000000")) == []


def test_values_that_repeat_call_after_call_are_stored_once_per_segment(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    calls = [_pending(n, n % 40, 0, 0, False) for n in range(1000)]  # one caller, two decisions
    with db.begin(iam=False) as conn:
        trail_store.insert(conn, calls)
    with db.read() as conn:
        (stored,) = conn.exec_driver_sql("SELECT events FROM trail_segments").one()
        rows = trail_store.query(conn, limit=1000)
    assert stored.count(USERS[0][2]) == 2  # the caller's ARN: its arn and principal_arn, once
    assert len(rows) == 1000 and {json.loads(r["record"])["userIdentity"]["arn"] for r in rows} == {USERS[0][2]}


def test_retention_drops_whole_old_segments_and_their_keys(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    with db.begin(iam=False) as conn:
        trail_store.insert(conn, [_pending(0, 1, 0, 0, False)])  # ann's GetRole at +0.1 s
        trail_store.insert(conn, [_pending(1, 30, 1, 1, True)])  # bob's CreateRole at +3.0 s
        trail_store.delete_before(conn, 1_790_000_002.0)
    with db.read() as conn:
        assert [r["event_name"] for r in trail_store.query(conn)] == ["CreateRole"]
        assert trail_store.query(conn, attribute=("Username", "ann")) == []
        keys = {r[0] for r in conn.exec_driver_sql("SELECT lookup_key FROM trail_segment_keys")}
    assert "Uann" not in keys and {"Ubob", "NCreateRole", "D"} <= keys
