"""The compiled policies that bind a caller, cached until the next IAM write.

A user: its inline + attached policies and its permissions boundary. A role session: the role's
inline + attached policies, the role's boundary, and the session policies sealed in its token.
"""

from __future__ import annotations

from functools import lru_cache

from keyless.auth.principals import Caller
from keyless.policy import Policy, PolicyKind, PolicySet, parse_policy
from keyless.store import aws_managed
from keyless.store import iam as iam_store
from keyless.store.db import Database


@lru_cache(maxsize=4096)
def compiled(text: str, kind: PolicyKind, name: str = "", policy_id: str = "") -> Policy:
    """Policies are compiled once per distinct document (documents were validated when stored)."""
    return parse_policy(text, kind, name=name, policy_id=policy_id)


class PolicyResolver:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[tuple[str, str], tuple[int, tuple[Policy, ...], Policy | None]] = {}

    def policy_set(self, caller: Caller) -> PolicySet:
        if caller.owner_kind is None or caller.owner_id is None:
            return PolicySet(identity=(), boundary=None, session=None)
        identity, boundary = self._owner_policies(caller.owner_kind, caller.owner_id)
        return PolicySet(identity=identity, boundary=boundary, session=self._session_policies(caller))

    def _owner_policies(self, kind: str, owner_id: str) -> tuple[tuple[Policy, ...], Policy | None]:
        key = (kind, owner_id)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self._db.generation:
            return hit[1], hit[2]
        generation = self._db.generation
        identity, boundary = self.load_owner_policies(kind, owner_id)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (generation, identity, boundary)
        return identity, boundary

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
