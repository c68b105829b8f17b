"""Access key -> Caller. Long-term keys are read from the store once and cached until the next
IAM write; session tokens carry everything sealed inside them, so they never touch the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from keyless import errors
from keyless.arn import assumed_role_arn
from keyless.auth import sigv4
from keyless.auth.principals import Caller, anonymous
from keyless.clock import Clock
from keyless.credentials import MasterKey, decrypt_secret, open_session
from keyless.protocol.http import HttpRequest
from keyless.store import iam as iam_store
from keyless.store.db import Database


class Authenticated(NamedTuple):  # one per request: a tuple is the cheapest immutable record
    caller: Caller
    signature: sigv4.SigV4Params | None  # None for anonymous requests
    signing: sigv4.SigningContext | None  # for verifying aws-chunked chunk signatures


@dataclass(frozen=True, slots=True)
class _KeyEntry:
    generation: int
    secret: str | None = field(repr=False)  # None: unknown or inactive key
    caller: Caller | None = None


class Authenticator:
    def __init__(self, db: Database, master_key: MasterKey, account: str, clock: Clock) -> None:
        self._db = db
        self._master_key = master_key
        self._account = account
        self._clock = clock
        self._keys: dict[str, _KeyEntry] = {}
        # Opened session tokens: a token is sealed and immutable, so decrypting it once is enough;
        # expiry is still checked on every request.
        self._sessions: dict[tuple[str, str], tuple[Any, Caller]] = {}

    def authenticate(self, req: HttpRequest, *, s3: bool) -> Authenticated:
        """Verify the request's signature and return who made it (anonymous when unsigned)."""
        params = sigv4.parse_authorization(req, s3=s3)
        if params is None:
            return Authenticated(anonymous(self._account), None, None)
        if params.access_key_id.startswith("ASIA"):
            caller, secret = self._session_caller(params, s3)
        else:
            caller, secret = self._long_term_caller(params.access_key_id)
        signing = sigv4.verify(req, params, secret, now=self._clock.time(), s3=s3)
        return Authenticated(caller, params, signing)

    # --- long-term keys ---------------------------------------------------------------------

    def _long_term_caller(self, access_key_id: str) -> tuple[Caller, str]:
        entry = self._keys.get(access_key_id)
        if entry is None or entry.generation != self._db.generation:
            entry = self._load_key(access_key_id)
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[access_key_id] = entry
        if entry.caller is None or entry.secret is None:
            raise errors.InvalidClientTokenId("The security token included in the request is invalid.")
        return entry.caller, entry.secret

    def _load_key(self, access_key_id: str) -> _KeyEntry:
        generation = self._db.generation
        with self._db.read() as conn:
            key = iam_store.get_access_key(conn, access_key_id)
            user = iam_store.get_user_by_id(conn, key["user_id"]) if key else None
        if not key or not user or key["status"] != "Active":
            return _KeyEntry(generation, None, None)
        caller = Caller(
            type="User",
            account=user["account"],
            arn=user["arn"],
            user_id=user["id"],
            principal_arn=user["arn"],
            username=user["name"],
            access_key_id=access_key_id,
            owner_kind="user",
            owner_id=user["id"],
            tags=tuple((t["Key"], t["Value"]) for t in iam_store.tags_of(user)),
        )
        return _KeyEntry(generation, decrypt_secret(key["secret"], self._master_key), caller)

    # --- session credentials ----------------------------------------------------------------

    def _session_caller(self, params: sigv4.SigV4Params, s3: bool) -> tuple[Caller, str]:
        token = params.security_token
        if not token:
            raise errors.InvalidClientTokenId("The security token included in the request is invalid.")
        opened = self._sessions.get((token, params.access_key_id))
        if opened is None:
            try:
                claims = open_session(token, self._master_key, access_key_id=params.access_key_id)
            except errors.InvalidClientTokenId:
                if s3:  # S3 names a bad token differently from the query services
                    raise errors.InvalidToken("The provided token is malformed or otherwise invalid.") from None
                raise
            opened = (claims, session_caller(claims))
            if len(self._sessions) > 10_000:
                self._sessions.clear()
            self._sessions[(token, params.access_key_id)] = opened
        claims, caller = opened
        if claims.expiration <= self._clock.time():
            if s3:
                raise errors.ExpiredToken("The provided token has expired.")
            raise errors.ExpiredToken("The security token included in the request is expired")
        return caller, claims.secret_access_key


def session_caller(claims: Any) -> Caller:
    """The Caller behind temporary credentials (AssumeRole, IMDS, GetSessionToken)."""
    if claims.principal_type == "AssumedRole":
        return Caller(
            type="AssumedRole",
            account=claims.account,
            arn=assumed_role_arn(claims.account, claims.role_name, claims.session_name),
            user_id=f"{claims.role_id}:{claims.session_name}",
            principal_arn=claims.role_arn,
            access_key_id=claims.access_key_id,
            owner_kind="role",
            owner_id=claims.role_id,
            session=claims,
            tags=tuple(sorted((claims.session_tags or {}).items())),
        )
    # GetSessionToken: the user's own permissions, as temporary credentials.
    return Caller(
        type="User",
        account=claims.account,
        arn=claims.principal_arn,
        user_id=claims.user_id,
        principal_arn=claims.principal_arn,
        username=claims.principal_arn.rsplit("/", 1)[-1],
        access_key_id=claims.access_key_id,
        owner_kind="user",
        owner_id=claims.user_id,
        session=claims,
    )
