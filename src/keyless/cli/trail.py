"""`keyless trail`: what happened, who did it, and why it was allowed or denied.

Reads the event history straight from the data directory (SQLite in WAL mode lets it read while
the server writes), so it works with the server running or stopped.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from keyless.config import default_data_dir

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("trail", help="show the audit trail: time, principal, action, resource, decision, why")
    p.add_argument("--data-dir", type=Path, default=None, help="state directory (env KEYLESS_DATA_DIR)")
    p.add_argument("--principal", help="only events by this principal (ARN, role, user or session name; substring)")
    p.add_argument("--action", help="only this action (s3:GetObject) or event name (GetObject)")
    p.add_argument("--denied", action="store_true", help="only denied (or, in learn mode, would-be denied) requests")
    p.add_argument("--since", help="ISO 8601 time or a relative age such as 15m, 2h, 7d")
    p.add_argument("--limit", type=int, default=100, help="how many of the newest events to show (default 100)")
    p.add_argument("--json", action="store_true", help="one CloudTrail record per line")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events as they arrive")
    p.set_defaults(func=run)


def parse_since(text: str | None, now: float) -> float | None:
    if not text:
        return None
    m = _RELATIVE.match(text.strip())
    if m:
        return now - int(m.group(1)) * _UNITS[m.group(2)]
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def run(args: argparse.Namespace) -> int:
    from keyless.store import trail as trail_store
    from keyless.store.db import Database

    db = Database.open(args.data_dir or default_data_dir())
    color = sys.stdout.isatty()
    start = parse_since(args.since, time.time())
    with db.read() as conn:
        rows = trail_store.query(conn, start=start, denied_only=args.denied, limit=args.limit)
    rows.reverse()  # oldest first on screen, like a log
    if not args.json:
        print(_header(color))
    cursor = (rows[-1]["event_time"], rows[-1]["event_id"]) if rows else (start or 0.0, "")
    _emit(rows, args, color)
    try:
        while args.follow:
            time.sleep(0.5)
            with db.read() as conn:
                rows = trail_store.query(conn, after=cursor, denied_only=args.denied, limit=1000, oldest_first=True)
            if rows:
                cursor = (rows[-1]["event_time"], rows[-1]["event_id"])
                _emit(rows, args, color)
    except KeyboardInterrupt:
        pass
    finally:
        db.close()
    return 0


def _emit(rows: list[dict[str, Any]], args: argparse.Namespace, color: bool) -> None:
    for row in rows:
        rec = json.loads(row["record"])
        line = summarize(rec)
        if args.principal and args.principal not in (line["principal_arn"] or "") and args.principal != line["principal"]:
            continue
        if args.action and args.action.lower() not in (line["action"].lower(), rec["eventName"].lower()):
            continue
        print(json.dumps(rec, separators=(",", ":")) if args.json else _row(line, color), flush=True)


def summarize(rec: dict[str, Any]) -> dict[str, Any]:
    """The table's view of one record: the first denying decision if any, else the first decision."""
    ident = rec.get("userIdentity") or {}
    decisions = (rec.get("keyless") or {}).get("decisions") or []
    chosen = next((d for d in decisions if d["result"] != "allowed"), decisions[0] if decisions else None)
    service = rec["eventSource"].split(".", 1)[0]
    if rec.get("errorCode") and not chosen:
        decision, reason = "error", f"{rec['errorCode']}: {rec.get('errorMessage', '')}"
    elif chosen:
        decision, reason = chosen["result"], chosen["reason"]
        if decision != "allowed" and (rec.get("keyless") or {}).get("enforce") != "on":
            decision += " (not enforced)"
    else:
        decision, reason = "allowed", "no permission needed"
    return {
        "time": rec["eventTime"],
        "principal": (ident.get("arn") or ident.get("invokedBy") or "anonymous").rsplit("/", 1)[-1] if ident.get("type") != "AssumedRole"
        else "/".join((ident.get("arn") or "").split("/")[-2:]),
        "principal_arn": ident.get("arn") or ident.get("invokedBy"),
        "action": chosen["action"] if chosen else f"{service}:{rec['eventName']}",
        "resource": chosen["resource"] if chosen else "-",
        "decision": decision,
        "reason": reason,
    }


_COLORS = {"allowed": "\033[32m", "error": "\033[33m"}


def _header(color: bool) -> str:
    text = f"{'TIME':<20}  {'PRINCIPAL':<28}  {'ACTION':<26}  {'RESOURCE':<40}  {'DECISION':<13}  WHY"
    return f"\033[1m{text}\033[0m" if color else text


def _row(line: dict[str, Any], color: bool) -> str:
    decision = line["decision"]
    if color:
        decision = f"{_COLORS.get(decision, chr(27) + '[31m')}{decision:<13}\033[0m"
    else:
        decision = f"{decision:<13}"
    return (f"{line['time']:<20}  {line['principal'][:28]:<28}  {line['action'][:26]:<26}  "
            f"{line['resource'][:40]:<40}  {decision}  {line['reason']}")
