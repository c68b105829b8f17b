"""The global condition keys: built lazily per request, equal to the eager build."""

from __future__ import annotations

from typing import Any

from keyless.auth.context import GlobalContext, global_context
from keyless.auth.principals import Caller
from keyless.protocol.http import HttpRequest

USER = Caller(type="User", account="123456789012", arn="arn:aws:iam::123456789012:user/ann", user_id="AIDAEXAMPLEEXAMPLE12",
              principal_arn="arn:aws:iam::123456789012:user/ann", username="ann", owner_kind="user",
              owner_id="AIDAEXAMPLEEXAMPLE12", tags=(("team", "blue"),))
REQUEST = HttpRequest("POST", "/", "", [("user-agent", "aws-cli/2")], client_ip="10.0.0.7")
NOW = 1_796_000_000.5


class _Watched:
    """A caller that counts how often its attributes are read."""

    def __init__(self, caller: Caller) -> None:
        self.caller, self.reads = caller, 0

    def __getattr__(self, name: str) -> Any:
        self.reads += 1
        return getattr(self.caller, name)


def test_lazy_keys_equal_the_eager_build() -> None:
    lazy = GlobalContext(USER, REQUEST, now=NOW, region="eu-west-1")
    eager = global_context(USER, REQUEST, now=NOW, region="eu-west-1")
    assert dict(lazy) == eager and len(lazy) == len(eager)
    assert lazy["aws:PrincipalTag/team"] == "blue" and lazy.get("aws:SourceIp") == "10.0.0.7"
    assert lazy.get("aws:MultiFactorAuthPresent") is None and "aws:username" in lazy


def test_nothing_is_built_until_a_key_is_read() -> None:
    watched = _Watched(USER)
    context = GlobalContext(watched, REQUEST, now=NOW, region="us-east-1")  # type: ignore[arg-type]
    assert watched.reads == 0 and not context.built
    assert context.get("aws:CurrentTime") == "2026-11-30T00:53:20Z"
    built = watched.reads
    assert built > 0 and context.built
    assert context["aws:userid"] == USER.user_id and dict(context)
    assert watched.reads == built  # built once, then read from the built keys
