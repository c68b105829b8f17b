"""`keyless policy generate | lint | unused`: least privilege from the audit trail.

    keyless policy generate --role app-role > app-policy.json     # from what the role really did
    keyless policy lint app-policy.json                           # exit 1 on findings (CI)
    keyless policy lint --all --json --fail-on security
    keyless policy unused --role app-role --since 30d             # granted, never attempted

Like `keyless trail`, these read the data directory directly (SQLite WAL lets them run beside a
live server). `add_tool_commands(policy_subparsers)` adds them to the `keyless policy` group.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from keyless.cli.trail import parse_since
from keyless.config import DEFAULT_ACCOUNT, default_data_dir
from keyless.policy import PolicyError, PolicyKind, policy_size
from keyless.policy.lint import Finding, Severity, detect_kind, lint

_ROLE_POLICY_QUOTA = 10240  # IAM's limit on the total size of a role's inline policies

def add_tool_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = commands.add_parser("generate", help="write a least-privilege identity policy from a role's recorded requests")
    p.add_argument("--role", required=True, help="role name or ARN")
    p.add_argument("--since", help="ISO 8601 time or a relative age such as 2h, 7d (default: all retained events)")
    p.add_argument("--until", help="ISO 8601 time or a relative age (default: now)")
    _data_dir(p)
    p.set_defaults(func=run_generate)

    p = commands.add_parser("lint", help="flag broad, risky, unknown or redundant grants in policies")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", type=Path, help="policy document file (- for stdin)")
    source.add_argument("--role", help="lint a role's trust policy and permissions policies")
    source.add_argument("--all", action="store_true", help="lint every role, user and customer-managed policy")
    p.add_argument("--kind", choices=[k.value for k in (PolicyKind.IDENTITY, PolicyKind.TRUST, PolicyKind.RESOURCE)],
                   help="kind of FILE (default: detected from its content)")
    p.add_argument("--json", action="store_true", help="print findings as a JSON list")
    p.add_argument("--fail-on", default="suggestion", choices=[s.name.lower() for s in Severity],
                   help="exit 1 when a finding is at least this severe (default: suggestion, i.e. any finding)")
    _data_dir(p)
    p.set_defaults(func=run_lint)

    p = commands.add_parser("unused", help="list actions a role's policies grant that it never attempted")
    p.add_argument("--role", required=True, help="role name or ARN")
    p.add_argument("--since", help="start of the window: ISO 8601 or an age such as 30d (default: all retained events)")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of one action per line")
    _data_dir(p)
    p.set_defaults(func=run_unused)


def _data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=None, help="state directory (env KEYLESS_DATA_DIR)")


class _UsageError(Exception):
    pass


# --- the store -------------------------------------------------------------------------------------


def _open(args: argparse.Namespace) -> Any:
    from keyless.store.db import Database

    return Database.open(args.data_dir or default_data_dir())


def _account(conn: Any) -> str:
    from keyless.store.db import get_meta

    return get_meta(conn, "account_id") or DEFAULT_ACCOUNT


def _find_role(conn: Any, name_or_arn: str) -> dict[str, Any]:
    from keyless.store import iam as iam_store

    row = (iam_store.get_role_by_arn(conn, name_or_arn) if name_or_arn.startswith("arn:")
           else iam_store.get_role(conn, _account(conn), name_or_arn.rsplit("/", 1)[-1]))
    if row is None:
        raise _UsageError(f"no role {name_or_arn!r} in this data directory")
    return dict(row)


def _trail_rows(conn: Any, principal_arn: str, start: float | None, end: float | None) -> Iterator[dict[str, Any]]:
    from keyless.trail.last_accessed import principal_rows

    return principal_rows(conn, principal_arn, start, end)


def _window(args: argparse.Namespace) -> tuple[float | None, float | None]:
    now = time.time()
    return parse_since(getattr(args, "since", None), now), parse_since(getattr(args, "until", None), now)


# --- generate ---------------------------------------------------------------------------------------


def run_generate(args: argparse.Namespace) -> int:
    from keyless.trail.generate import NothingObserved, generate_policy, policy_json

    db = _open(args)
    try:
        with db.read() as conn:
            role = _find_role(conn, args.role)
            start, end = _window(args)
            records = [json.loads(r["record"]) for r in _trail_rows(conn, role["arn"], start, end)]
        doc = generate_policy(records)
    except (_UsageError, NothingObserved) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    text = policy_json(doc)
    if policy_size(text) > _ROLE_POLICY_QUOTA:
        print(f"warning: {policy_size(text)} characters (without whitespace) exceeds IAM's {_ROLE_POLICY_QUOTA} "
              "for a role's inline policies; split it or generalise some resources", file=sys.stderr)
    sys.stdout.write(text)
    return 0


# --- lint ---------------------------------------------------------------------------------------------


def run_lint(args: argparse.Namespace) -> int:
    try:
        results = list(_lint_file(args)) if args.file else _lint_store(args)
    except (_UsageError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{"source": source, **f.to_dict()} for source, f in results], indent=2))
    else:
        for source, f in results:
            print(_text(source, f))
        if not results:
            print("no findings")
    threshold = Severity.parse(args.fail_on)
    return 1 if any(f.severity >= threshold for _, f in results) else 0


def _text(source: str, f: Finding) -> str:
    where = "" if f.statement is None else f" Statement[{f.statement}]" + (f" ({f.sid})" if f.sid else "")
    line = f" line {f.line}" if f.line else ""
    return f"{source}:{where}{line}: {f.severity.name.lower()} {f.id}: {f.message}"


def _lint_file(args: argparse.Namespace) -> Iterator[tuple[str, Finding]]:
    text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text()
    kind = PolicyKind(args.kind) if args.kind else detect_kind(text)
    for f in lint(text, kind):
        yield str(args.file), f


def _lint_store(args: argparse.Namespace) -> list[tuple[str, Finding]]:
    from keyless.store import iam as iam_store

    db = _open(args)
    try:
        with db.read() as conn:
            if args.role:
                documents = list(_role_documents(conn, _find_role(conn, args.role)))
            else:
                account = _account(conn)
                documents = [d for role in iam_store.list_roles(conn, account) for d in _role_documents(conn, role)]
                documents += [d for user in iam_store.list_users(conn, account) for d in _user_documents(conn, user)]
                documents += _managed_documents(conn, account, documents)
    finally:
        db.close()
    return [(source, f) for source, text, kind in documents for f in _lint_text(text, kind)]


def _lint_text(text: str, kind: PolicyKind) -> tuple[Finding, ...]:
    try:
        return lint(text, kind)
    except PolicyError as exc:  # stored documents were validated on the way in; report, don't crash
        return (Finding("MALFORMED_POLICY", Severity.ERROR, None, str(exc)),)


def _role_documents(conn: Any, role: dict[str, Any]) -> Iterator[tuple[str, str, PolicyKind]]:
    yield f"{role['arn']} trust policy", role["trust_policy"], PolicyKind.TRUST
    yield from _owner_documents(conn, "role", role)


def _user_documents(conn: Any, user: dict[str, Any]) -> Iterator[tuple[str, str, PolicyKind]]:
    yield from _owner_documents(conn, "user", user)


def _owner_documents(conn: Any, kind: str, row: dict[str, Any]) -> Iterator[tuple[str, str, PolicyKind]]:
    from keyless.store import aws_managed
    from keyless.store import iam as iam_store

    for name, text in iam_store.inline_policy_documents(conn, kind, row["id"]):
        yield f"{row['arn']} inline policy {name}", text, PolicyKind.IDENTITY
    for policy_arn in iam_store.attached_policy_arns(conn, kind, row["id"]):
        managed = aws_managed.get(policy_arn)
        text = managed.document if managed else iam_store.managed_policy_document(conn, policy_arn)
        if text:
            yield f"{row['arn']} attached {policy_arn}", text, PolicyKind.IDENTITY


def _managed_documents(conn: Any, account: str, seen: list[tuple[str, str, PolicyKind]]) -> list[tuple[str, str, PolicyKind]]:
    """Customer-managed policies attached to nothing (the attached ones were linted with their owners)."""
    from keyless.store import iam as iam_store

    linted = {source.rsplit(" ", 1)[-1] for source, _, _ in seen}
    out = []
    for policy in iam_store.list_managed_policies(conn, account):
        text = iam_store.managed_policy_document(conn, policy["arn"])
        if text and policy["arn"] not in linted:
            out.append((policy["arn"], text, PolicyKind.IDENTITY))
    return out


# --- unused ---------------------------------------------------------------------------------------------


def run_unused(args: argparse.Namespace) -> int:
    from keyless.trail.last_accessed import entity_documents, granted_actions, unused_actions

    db = _open(args)
    try:
        with db.read() as conn:
            role = _find_role(conn, args.role)
            granted = granted_actions(text for _, text in entity_documents(conn, role["arn"]))
            start, _ = _window(args)
            unused = unused_actions(_trail_rows(conn, role["arn"], start, None), granted)
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    if args.json:
        print(json.dumps({"role": role["arn"], "granted": len(granted), "unused": unused}, indent=2))
    else:
        for action in unused:
            print(action)
        print(f"{len(unused)} of {len(granted)} granted actions unused", file=sys.stderr)
    return 0
