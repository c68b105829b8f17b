"""The global condition keys AWS sets on a request (reference/policy-evaluation.md section 6)."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Iterator, Mapping

from keyless.auth.principals import Caller
from keyless.protocol.http import HttpRequest


def _iso(epoch: float) -> str:
    return _iso_second(int(epoch))


@lru_cache(maxsize=64)  # requests in the same second share the text
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def global_context(caller: Caller, req: HttpRequest, *, now: float, region: str, secure: bool = False) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "aws:CurrentTime": _iso(now),
        "aws:EpochTime": str(int(now)),
        "aws:SecureTransport": "true" if secure else "false",
        "aws:SourceIp": req.client_ip,
        "aws:RequestedRegion": region,
        "aws:PrincipalType": caller.type,
        "aws:userid": caller.user_id,
        "aws:ViaAWSService": "false",
        "aws:PrincipalIsAWSService": "false",
    }
    agent = req.header("user-agent")
    if agent is not None:
        ctx["aws:UserAgent"] = agent
    if caller.is_anonymous:
        return ctx
    ctx["aws:PrincipalArn"] = caller.principal_arn or caller.arn
    ctx["aws:PrincipalAccount"] = caller.account
    if caller.username:
        ctx["aws:username"] = caller.username
    for key, value in caller.tags:
        ctx[f"aws:PrincipalTag/{key}"] = value
    claims = caller.session
    if claims is not None:
        ctx["aws:TokenIssueTime"] = _iso(claims.issued_at)
        ctx["aws:MultiFactorAuthPresent"] = "true" if getattr(claims, "mfa", False) else "false"
        if getattr(claims, "source_identity", None):
            ctx["aws:SourceIdentity"] = claims.source_identity
        for key, value in (getattr(claims, "ec2", None) or {}).items():
            ctx[key] = value
    return ctx


class GlobalContext(Mapping[str, Any]):
    """A request's global condition keys, built when a condition, a policy variable or a handler
    first reads one: most decisions (an Allow without conditions) never do."""

    __slots__ = ("_caller", "_req", "_now", "_region", "_keys")

    def __init__(self, caller: Caller, req: HttpRequest, *, now: float, region: str) -> None:
        self._caller, self._req, self._now, self._region = caller, req, now, region
        self._keys: dict[str, Any] | None = None

    @property
    def built(self) -> bool:
        """Whether anything has read a key yet (a decision that never did holds for any context)."""
        return self._keys is not None

    def _built(self) -> dict[str, Any]:
        if self._keys is None:
            self._keys = global_context(self._caller, self._req, now=self._now, region=self._region)
        return self._keys

    def __getitem__(self, key: str) -> Any:
        return self._built()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._built().get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())
