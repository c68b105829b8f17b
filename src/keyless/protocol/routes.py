"""REST routing: which operation an HTTP request is, from the model's requestUri templates.

Each operation's `requestUri` ("/{Bucket}/{Key+}?uploads", "/{Bucket}?list-type=2") becomes a
Route: a regex over the raw (still percent-encoded) path, the literal query keys it needs, and the
querystring/header members its input requires. Several routes often share method and path
(GET /{Bucket}/{Key+} is GetObject, or ListParts when uploadId is present), so candidates are
tried most specific first:

    1. more literal query keys            ?uploads beats nothing
    2. more required query/header members  UploadPartCopy (uploadId, partNumber, x-amz-copy-source)
                                           beats UploadPart beats CopyObject beats PutObject
    3. longer literal path
    4. not demoted (deprecated operations, and those a service serves elsewhere, see DEMOTED)

No route for the method on that path: MethodNotAllowed 405. Routes for the method, none satisfied
(POST /bucket/key without ?uploads or uploadId): NotImplemented 501.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from botocore.model import OperationModel, ServiceModel

from keyless.errors import NotImplementedOperation
from keyless.protocol.errors import MethodNotAllowed

# Operations a general-purpose endpoint never routes to, with the reason (quirk table).
DEMOTED: dict[str, dict[str, str]] = {
    "s3": {
        "ListDirectoryBuckets": "S3 Express One Zone: served by zonal endpoints, not s3.<region>.amazonaws.com",
        "CreateSession": "S3 Express One Zone: served by zonal endpoints",
    },
}

_LABEL = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True, slots=True)
class Route:
    operation: str
    method: str
    path: re.Pattern[str]
    labels: tuple[str, ...]  # label names in group order ("Key", not "Key+")
    literal_query: tuple[tuple[str, str | None], ...]  # ("uploads", None), ("list-type", "2")
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]  # lower-case
    rank: tuple[int, ...]

    def accepts(self, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> bool:
        for key, value in self.literal_query:
            if key not in query or (value is not None and value not in query[key]):
                return False
        return all(k in query for k in self.required_query) and all(h in headers for h in self.required_headers)


def build_route(op: OperationModel, demoted: bool) -> Route:
    template = op.http.get("requestUri", "/")
    path_template, _, query_template = template.partition("?")
    regex, labels = _path_regex(path_template)
    literal_query = tuple(_literal(part) for part in query_template.split("&") if part)
    required_query: list[str] = []
    required_headers: list[str] = []
    shape = op.input_shape
    if shape is not None:
        for name in shape.required_members:
            member = shape.members[name]
            location, wire = member.serialization.get("location"), member.serialization.get("name", name)
            if location == "querystring" and member.type_name != "map":
                required_query.append(wire)
            elif location == "header":
                required_headers.append(wire.lower())
    literal_chars = len(_LABEL.sub("", path_template))
    rank = (len(literal_query), len(required_query) + len(required_headers), literal_chars,
            0 if demoted or getattr(op, "deprecated", False) else 1)
    return Route(op.name, op.http.get("method", "POST").upper(), regex, labels, literal_query,
                 tuple(required_query), tuple(required_headers), rank)


def _literal(part: str) -> tuple[str, str | None]:
    key, eq, value = part.partition("=")
    return (key, value if eq else None)


def _path_regex(path_template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    pattern, labels, pos, greedy_end = ["^"], [], 0, False
    for match in _LABEL.finditer(path_template):
        pattern.append(re.escape(path_template[pos:match.start()]))
        label = match.group(1)
        if label.endswith("+"):
            pattern.append("(.+)")
            labels.append(label[:-1])
            greedy_end = match.end() == len(path_template)
        else:
            pattern.append("([^/]+)")
            labels.append(label)
        pos = match.end()
    tail = path_template[pos:]
    pattern.append(re.escape(tail))
    if not greedy_end and path_template != "/" and not tail.endswith("/"):
        pattern.append("/?")  # "/bucket/" is the bucket, as S3 reads it
    pattern.append("$")
    return re.compile("".join(pattern), re.DOTALL), tuple(labels)


class Router:
    """Routes by method; those needing a literal query key are indexed by it, so a request only
    tries the routes its own query keys can satisfy (GET /b/k tries 5 of S3's 47 GET routes)."""

    def __init__(self, service_model: ServiceModel) -> None:
        demoted = DEMOTED.get(service_model.service_name, {})
        plain: dict[str, list[Route]] = {}
        keyed: dict[str, dict[str, list[Route]]] = {}
        for name in service_model.operation_names:
            route = build_route(service_model.operation_model(name), name in demoted)
            if route.literal_query:
                keyed.setdefault(route.method, {}).setdefault(route.literal_query[0][0], []).append(route)
            else:
                plain.setdefault(route.method, []).append(route)
        self._plain = {method: _by_rank(routes) for method, routes in plain.items()}
        self._keyed = {method: {k: _by_rank(r) for k, r in table.items()} for method, table in keyed.items()}
        every = [r for routes in plain.values() for r in routes] + [
            r for table in keyed.values() for routes in table.values() for r in routes]
        self._by_operation = {r.operation: r for r in every}

    def candidates(self, method: str, query: Mapping[str, list[str]]) -> list[Route]:
        keyed = self._keyed.get(method)
        found: list[Route] = []
        if keyed:
            for key in query:
                found.extend(keyed.get(key, ()))
            found.sort(key=_rank, reverse=True)
        found.extend(self._plain.get(method, ()))
        return found

    def match(self, method: str, raw_path: str, query: Mapping[str, list[str]],
              headers: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        """(operation name, raw label values) for a request, or the error S3 gives."""
        method = method.upper()
        method_seen = False
        for route in self.candidates(method, query):
            found = route.path.match(raw_path)
            if found is None:
                continue
            method_seen = True
            if route.accepts(query, headers):
                return route.operation, dict(zip(route.labels, found.groups()))
        if method_seen or self._path_known(method, raw_path):
            raise NotImplementedOperation("A header you provided implies functionality that is not implemented")
        raise MethodNotAllowed("The specified method is not allowed against this resource.", Method=method,
                               ResourceType=_resource_type(raw_path))

    def _path_known(self, method: str, raw_path: str) -> bool:
        """Whether some route of this method (any query) serves the path: then it is a query problem."""
        return any(r.path.match(raw_path) for table in self._keyed.get(method, {}).values() for r in table)

    def labels(self, operation: str, raw_path: str) -> dict[str, str]:
        route = self._by_operation[operation]
        found = route.path.match(raw_path)
        return dict(zip(route.labels, found.groups())) if found else {}


def _rank(route: Route) -> tuple[int, ...]:
    return route.rank


def _by_rank(routes: list[Route]) -> list[Route]:
    return sorted(routes, key=_rank, reverse=True)


def _resource_type(raw_path: str) -> str:
    segments = [s for s in raw_path.split("/", 2)[1:] if s]
    return ("SERVICE", "BUCKET", "OBJECT")[min(len(segments), 2)]
