"""One instance's metadata service: the access rules of IMDSv1/v2 in front of the metadata tree.

    HttpEndpoint=disabled ............................. 403 for everything
    PUT /latest/api/token + TTL header 1..21600 ....... 200 token  (else 400; X-Forwarded-For 403;
                                                        a dated version's api/token 403)
    GET/HEAD with a valid token ....................... served, credentials delivered as IMDSv2
    GET/HEAD with an invalid or expired token ......... 401, whatever HttpTokens says
    GET/HEAD without a token .......................... 401 if HttpTokens=required, else IMDSv1
    any other method .................................. 405
"""

from __future__ import annotations

from typing import Any, Callable

from keyless.imds.listener import ImdsRequest
from keyless.imds.model import IMDS_V1, IMDS_V2, Answer, CredentialSource, InstanceView
from keyless.imds.tokens import TokenIssuer, parse_ttl
from keyless.imds.tree import VERSIONS, build_static, error, resolve

TOKEN_HEADER = "x-aws-ec2-metadata-token"
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"

Identity = Callable[[InstanceView], dict[str, str]]


class InstanceMetadataService:
    def __init__(self, view: InstanceView, source: CredentialSource, tokens: TokenIssuer,
                 identity: Identity | None = None) -> None:
        self._source = source
        self._tokens = tokens
        self._identity = identity
        self._current: tuple[InstanceView, dict[str, Any]] = (view, build_static(view, identity))

    @property
    def view(self) -> InstanceView:
        return self._current[0]

    def update(self, view: InstanceView) -> None:
        """Swap in a new view; the next request sees it whole."""
        self._current = (view, build_static(view, self._identity))

    def __call__(self, request: ImdsRequest) -> Answer:
        view, static = self._current
        if view.options.http_endpoint == "disabled":
            return error(403)
        if request.method == "PUT":
            return self._token(request, view)
        if request.method not in ("GET", "HEAD"):
            return error(405)
        if _segments(request.path)[1:] == ["api", "token"]:
            return error(405)
        token = request.headers.get(TOKEN_HEADER)
        if token is not None:
            if not self._tokens.valid(token, view.boot):
                return error(401)
            delivery = IMDS_V2
        elif view.options.http_tokens == "required":
            return error(401)
        else:
            delivery = IMDS_V1
        return resolve(static, view, self._source, request.path, delivery)

    def _token(self, request: ImdsRequest, view: InstanceView) -> Answer:
        segments = _segments(request.path)
        if segments[1:] != ["api", "token"] or segments[0] not in VERSIONS:
            return error(405)
        if segments[0] != "latest":  # only /latest/api/token issues tokens [retr]
            return error(403)
        if "x-forwarded-for" in request.headers:  # a proxied PUT is refused [v2]
            return error(403)
        ttl = parse_ttl(request.headers.get(TTL_HEADER))
        if ttl is None:
            return error(400)
        token = self._tokens.issue(view.boot, ttl)
        return Answer(200, token.encode(), headers=(("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", str(ttl)),))


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s] or [""]
