"""The compiled policies that bind a caller, cached until the next IAM write.

A user: its inline + attached policies and its permissions boundary. A role session: the role's
inline + attached policies, the role's boundary, and the session policies sealed in its token.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from keyless.auth.principals import Caller
from keyless.policy import Policy, PolicyKind, PolicySet, parse_policy
from keyless.store import aws_managed
from keyless.store import iam as iam_store
from keyless.store.db import Database


_NO_POLICIES = PolicySet(identity=(), boundary=None, session=None)


@lru_cache(maxsize=4096)
def compiled(text: str, kind: PolicyKind, name: str = "", policy_id: str = "") -> Policy:
    """Policies are compiled once per distinct document (documents were validated when stored)."""
    return parse_policy(text, kind, name=name, policy_id=policy_id)


class PolicyResolver:
    def __init__(self, db: Database) -> None:
        self._db = db
        # (owner kind, owner id[, session policy, policy ARNs]) -> (IAM generation, the set). The set
        # itself is kept, not rebuilt per request: the engine caches its plans per set.
        self._cache: dict[tuple[Any, ...], tuple[int, PolicySet]] = {}

    def policy_set(self, caller: Caller) -> PolicySet:
        if caller.owner_kind is None or caller.owner_id is None:
            return _NO_POLICIES
        claims = caller.session
        key: tuple[Any, ...] = (caller.owner_kind, caller.owner_id)
        if claims is not None and (claims.session_policy or claims.policy_arns):
            key += (claims.session_policy, tuple(claims.policy_arns or ()))
        hit = self._cache.get(key)
        generation = self._db.generation
        if hit is not None and hit[0] == generation:
            return hit[1]
        identity, boundary = self.load_owner_policies(caller.owner_kind, caller.owner_id)
        policies = PolicySet(identity=identity, boundary=boundary, session=self._session_policies(caller))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (generation, policies)
        return policies

    def load_owner_policies(self, kind: str, owner_id: str) -> tuple[tuple[Policy, ...], Policy | None]:
        with self._db.read() as conn:
            owner = (iam_store.get_user_by_id if kind == "user" else iam_store.get_role_by_id)(conn, owner_id)
            if owner is None:
                return (), None
            policies = [
                compiled(doc, PolicyKind.IDENTITY, name, f"{kind}/{owner['name']}/{name}")
                for name, doc in iam_store.inline_policy_documents(conn, kind, owner_id)
            ]
            for arn in iam_store.attached_policy_arns(conn, kind, owner_id):
                doc = self._managed_document(conn, arn)
                if doc is not None:
                    policies.append(compiled(doc, PolicyKind.IDENTITY, arn.rsplit("/", 1)[-1], arn))
            boundary = None
            if owner.get("boundary_arn"):
                doc = self._managed_document(conn, owner["boundary_arn"])
                if doc is not None:
                    boundary = compiled(doc, PolicyKind.BOUNDARY, owner["boundary_arn"].rsplit("/", 1)[-1], owner["boundary_arn"])
        return tuple(policies), boundary

    @staticmethod
    def _managed_document(conn, arn: str) -> str | None:  # type: ignore[no-untyped-def]
        builtin = aws_managed.get(arn)
        if builtin is not None:
            return builtin.document
        return iam_store.managed_policy_document(conn, arn)

    def _session_policies(self, caller: Caller) -> tuple[Policy, ...] | None:
        claims = caller.session
        if claims is None or (not claims.session_policy and not claims.policy_arns):
            return None
        policies = []
        if claims.session_policy:
            policies.append(compiled(claims.session_policy, PolicyKind.SESSION, "session", "session"))
        with self._db.read() as conn:
            for arn in claims.policy_arns or ():
                doc = self._managed_document(conn, arn)
                if doc is not None:
                    policies.append(compiled(doc, PolicyKind.SESSION, arn.rsplit("/", 1)[-1], arn))
        return tuple(policies)
