"""The ASGI application: one port, every service. The request pipeline, in order:

    local admin (/_keyless/*) -> route to a service -> read body -> authenticate (SigV4)
    -> a kept answer for this input from these credentials (IAM and STS reads), or:
    -> match operation -> parse input -> authorize (policy engine) -> dispatch handler -> serialize

Errors at any step are rendered by the service's protocol; nothing else writes wire bytes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from itertools import chain
from typing import Any, AsyncIterator, Awaitable, Callable

from keyless import __version__, errors, ids
from keyless.auth import sigv4
from keyless.auth.authenticate import Authenticated
from keyless.auth.chunked import IncompleteBody
from keyless.auth.context import GlobalContext
from keyless.auth.principals import Caller
from keyless.policy import Request, evaluate
from keyless.protocol import protocol_for
from keyless.protocol.form import form_params
from keyless.protocol.http import HttpRequest, HttpResponse
from keyless.server import routing
from keyless.server.state import AppState
from keyless.services.base import RequestContext, Service, Target, call_handler, enforce
from keyless.trail.events import pending_call

log = logging.getLogger("keyless.server")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_CONTROL_BODY = 8 * 1024 * 1024  # non-streaming request bodies (IAM, STS, EC2 forms, S3 XML)
MAX_HEADER_LINE = 8 * 1024  # AWS's limit for one header line ("name: value")
MAX_HEADER_SECTION = 64 * 1024  # keyless's own bound on all header lines together
# Kept answers (IAM and STS reads) are all forgotten when either bound would be passed: a few
# large listings must not hold the server's memory any more than many small answers.
KEPT_ANSWERS = 10_000
KEPT_ANSWER_BYTES = 64 * 1024 * 1024


class RequestEntityTooLarge(errors.AwsError):
    code = "RequestEntityTooLarge"
    status = 413


class RequestHeaderSectionTooLarge(errors.AwsError):
    code = "RequestHeaderSectionTooLarge"
    status = 400


def _incomplete() -> IncompleteBody:
    """The client closed the connection before sending the body it announced: nothing is served."""
    return IncompleteBody("You did not provide the number of bytes specified by the Content-Length HTTP header")


@dataclass(slots=True)
class _Served:
    """What one request got to before it ended, for the trail."""

    ctx: RequestContext | None = None
    params: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    error: errors.AwsError | None = None


# Serialized in place of the request id when a response is kept for reuse (never a real id: not a UUID).
_REQUEST_ID_MARK = "keyless-request-id-mark"
_MARK_BYTES = _REQUEST_ID_MARK.encode()


@dataclass(frozen=True, slots=True)
class _Answer:
    """A cacheable read answered before: what its input parsed to, what the engine decided and
    the wire bytes, kept until the next IAM write."""

    generation: int
    operation: str
    params: dict[str, Any]
    # None when a decision read the request's context (a condition, a policy variable, a resource
    # tag): then each request is authorized again. Otherwise the decisions are a function of the
    # credentials, the input and IAM state, all of which the key and the generation pin.
    decisions: tuple[tuple[str, str, str, str], ...] | None
    # No output dict: these are reads, whose trail events keep no response elements.
    status: int
    headers: tuple[tuple[str, str], ...]
    id_header: int  # the index of the header that carries the request id (x-amzn-requestid)
    body_parts: tuple[bytes, ...]  # the body split where the request id goes

    def response(self, request_id: str) -> HttpResponse:
        headers = list(self.headers)
        headers[self.id_header] = (headers[self.id_header][0], request_id)
        return HttpResponse(self.status, headers, request_id.encode().join(self.body_parts))


class KeylessApp:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self._answers: dict[tuple[Any, ...], _Answer] = {}
        self._kept_bytes = 0  # request and response bodies the kept answers hold

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        req, header_bytes = _request_from_scope(scope)
        if req.raw_path.startswith("/_keyless/"):
            resp = self._local(req)
        elif header_bytes > MAX_HEADER_SECTION:
            resp = self._refused(routing.service_from_signature(req), RequestHeaderSectionTooLarge(
                "Your request header section exceeds the maximum allowed size.", MaxSizeAllowed=str(MAX_HEADER_LINE)),
                ids.request_id())
        else:
            resp = await self.handle(req, receive)
            if req.stream is not None and resp.status >= 300:
                # S3 hook: a failed upload may have left its body unread (denied, or Expect: 100-continue
                # answered early); reusing the connection would parse that body as the next request.
                resp.headers.append(("connection", "close"))
        await _send_response(send, resp, head=req.method == "HEAD")

    # --- the pipeline ---------------------------------------------------------------------

    async def handle(self, req: HttpRequest, receive: Receive) -> HttpResponse:
        request_id = ids.request_id()
        service_name = routing.service_from_signature(req)
        if service_name != "s3":
            try:
                req.body = await _read_body(receive, MAX_CONTROL_BODY)
            except errors.AwsError as exc:  # too large, or cut short: nothing else is read or served
                return self._refused(service_name, exc, request_id)
            if service_name is None:
                form = _form_or_none(req) if routing.is_form(req) else None
                service_name = routing.service_from_shape(req, form)
                if service_name == "s3":  # S3 hook: unsigned S3 requests read their body again in _serve
                    receive = _replay(req.body)
        service = self.state.services.get(service_name)
        if service is None:  # nothing names a service keyless serves: answer in a query envelope
            return protocol_for("sts").serialize_error(
                errors.InvalidAction("Could not find operation for this request."), request_id)
        proto = protocol_for(service_name)
        served = _Served()
        try:
            is_s3 = service_name == "s3"
            auth = self.state.authenticator.authenticate(req, s3=is_s3)
            if auth.signature is not None:
                sigv4.check_service(auth.signature, service_name, s3=is_s3)
            answer = self._kept(req, auth, service, proto)
            if answer is not None:
                resp = self._replay(answer, req, auth, service, request_id, served)
            else:
                resp = await self._serve(req, receive, service, auth, request_id, served)
        except errors.AwsError as exc:
            served.error = exc
            resp = proto.serialize_error(exc, request_id)
        except Exception:
            log.exception("internal error serving %s request %s", service_name, request_id)
            served.error = errors.InternalFailure("We encountered an internal error. Please try again.")
            resp = proto.serialize_error(served.error, request_id)
        if served.ctx is not None:
            self._record(served)
        return resp

    async def _serve(self, req: HttpRequest, receive: Receive, service: Service, auth: Authenticated, request_id: str,
                     served: _Served) -> HttpResponse:
        proto, is_s3 = protocol_for(service.name), service.name == "s3"
        caller = auth.caller
        op = proto.match_operation(req)
        if is_s3:
            if proto.operation_needs_stream(op):
                req.stream = _body_stream(receive)
            else:
                req.body = await _read_body(receive, MAX_CONTROL_BODY)
        if caller.is_anonymous and not is_s3 and op.name not in service.allow_anonymous:
            raise errors.MissingAuthenticationToken("Request is missing Authentication Token")
        served.ctx = ctx = self._context(req, auth, op.name, service, request_id)
        served.params = params = proto.parse(op, req)
        self.authorize(ctx, service, service.access(ctx, params))
        handler = service.handlers.get(op.name)
        if handler is None:
            raise errors.NotImplementedOperation(f"{op.name} is not implemented by keyless yet.")
        served.output = output = await call_handler(handler, ctx, params) or {}
        if auth.signature is not None and proto.form_input and op.name in service.cacheable_reads:
            return self._keep(proto, op, ctx, params, output, auth.signature.access_key_id)
        return proto.serialize(op, output, request_id)

    def _context(self, req: HttpRequest, auth: Authenticated, operation: str, service: Service,
                 request_id: str) -> RequestContext:
        state, region = self.state, self.state.settings.region
        # Positional, in field order: keywords cost a slots dataclass twice as much to build.
        return RequestContext(state, auth.caller, req, operation, request_id, region, service.name,
                              GlobalContext(auth.caller, req, now=state.clock.time(), region=region), [],
                              auth.signature, auth.signing)

    def _keep(self, proto: Any, op: Any, ctx: RequestContext, params: dict[str, Any], output: dict[str, Any],
              access_key_id: str) -> HttpResponse:
        """A read whose answer depends only on IAM state, the credentials and the input: kept with
        its wire bytes, so the same request again skips parsing and the handler (and the engine,
        when no decision read the request's context), and only splices in its own request id."""
        resp = proto.serialize(op, output, _REQUEST_ID_MARK)
        assert isinstance(resp.body, bytes)  # query protocol responses are never streamed
        keys = ctx.context_keys
        context_free = isinstance(keys, GlobalContext) and not keys.built
        id_header = [value for _, value in resp.headers].index(_REQUEST_ID_MARK)
        answer = _Answer(self.state.db.generation, op.name, params, tuple(ctx.decisions) if context_free else None,
                         resp.status, tuple(resp.headers), id_header, tuple(resp.body.split(_MARK_BYTES)))
        size = len(resp.body) + len(ctx.request.body)
        if len(self._answers) >= KEPT_ANSWERS or self._kept_bytes + size > KEPT_ANSWER_BYTES:
            self._answers.clear()
            self._kept_bytes = 0
        self._answers[_answer_key(ctx.service, ctx.request, access_key_id)] = answer
        self._kept_bytes += size
        return answer.response(ctx.request_id)

    def _kept(self, req: HttpRequest, auth: Authenticated, service: Service, proto: Any) -> _Answer | None:
        """The answer kept for this very input from these credentials, if IAM has not changed since."""
        if auth.signature is None or not proto.form_input or not service.cacheable_reads:
            return None
        answer = self._answers.get(_answer_key(service.name, req, auth.signature.access_key_id))
        return answer if answer is not None and answer.generation == self.state.db.generation else None

    def _replay(self, answer: _Answer, req: HttpRequest, auth: Authenticated, service: Service, request_id: str,
                served: _Served) -> HttpResponse:
        if answer.decisions is None:  # a decision read the request's context: the engine decides again
            served.ctx = ctx = self._context(req, auth, answer.operation, service, request_id)
            served.params = answer.params
            self.authorize(ctx, service, service.access(ctx, answer.params))
        else:  # nothing is left to decide or to fail: the call is recorded now, with no RequestContext to build
            self._trail(req, auth.caller, service.name, answer.operation, request_id, answer.params, None, None,
                        answer.decisions)
        return answer.response(request_id)

    def _refused(self, service_name: str | None, error: errors.AwsError, request_id: str) -> HttpResponse:
        """An error before the request was read whole; the connection closes, as its body may be unread."""
        proto = protocol_for(service_name if service_name in self.state.services else "s3")
        resp = proto.serialize_error(error, request_id)
        resp.headers.append(("connection", "close"))
        return resp

    def _record(self, served: _Served) -> None:
        ctx = served.ctx
        if ctx is not None:
            self._trail(ctx.request, ctx.caller, ctx.service, ctx.operation, ctx.request_id, served.params, served.output,
                        served.error, tuple(ctx.decisions))

    def _trail(self, req: HttpRequest, caller: Caller, service: str, operation: str, request_id: str,
               params: dict[str, Any] | None, output: dict[str, Any] | None, error: errors.AwsError | None,
               decisions: tuple[tuple[str, str, str, str], ...]) -> None:
        recorder = self.state.components.get("trail")
        if recorder is not None:  # shaped off the request path
            settings = self.state.settings
            recorder.record_call(pending_call(self.state.clock.time(), service, operation, settings.region,
                                              settings.account_id, request_id, caller, req, params, output, error,
                                              decisions, settings.enforce))

    def authorize(self, ctx: RequestContext, service: Service, targets: list[Target]) -> None:
        """The one decision point for API calls: every target goes through the policy engine."""
        if not targets:
            return
        policies = self.state.policies.policy_set(ctx.caller)
        principal = ctx.caller.principal
        for target in targets:
            context = {**ctx.context_keys, **target.context} if target.context else ctx.context_keys
            decision = evaluate(
                Request(action=target.action, resource=target.resource, principal=principal, context=context),
                policies, target.resource_policy, resource_account=target.resource_account or ctx.account,
            )
            enforce(ctx, service.denied, decision, target)

    # --- local admin ----------------------------------------------------------------------

    def _local(self, req: HttpRequest) -> HttpResponse:
        if req.raw_path == "/_keyless/health" and req.method in ("GET", "HEAD"):
            recorder = self.state.components.get("trail")
            body = {"status": "ok", "version": __version__, "account": self.state.settings.account_id,
                    "region": self.state.settings.region, "enforce": self.state.settings.enforce,
                    "trail": {"written": recorder.written, "dropped": recorder.dropped} if recorder else None}
            return HttpResponse(200, [("content-type", "application/json")], json.dumps(body).encode())
        return HttpResponse(404, [("content-type", "application/json")], b'{"error": "not found"}')

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for component in list(self.state.components.values()):
                    if hasattr(component, "start"):
                        await component.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for component in reversed(list(self.state.components.values())):
                    if hasattr(component, "stop"):
                        await component.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _form_or_none(req: HttpRequest) -> dict[str, str] | None:
    """The decoded form (kept on the request for the parser), or None if it is not one."""
    try:
        return form_params(req)
    except errors.AwsError:
        return None


def _answer_key(service: str, req: HttpRequest, access_key_id: str) -> tuple[Any, ...]:
    """Everything a form-protocol read's answer depends on besides IAM state: its whole input (the
    form in the query string or the body, read as its content type says) and the credentials (an
    access key stands for one caller, and a session's key for its session policies too)."""
    return (service, access_key_id, req.method, req.raw_path, req.query_string, req.header_map.get("content-type"),
            req.body)


def _request_from_scope(scope: dict[str, Any]) -> tuple[HttpRequest, int]:
    """The request, and the size of its header section (past MAX_HEADER_SECTION if any one line is
    over MAX_HEADER_LINE). One pass over the headers also builds the map every later step reads."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    if "?" in path:  # some servers include the query in raw_path
        path = path.split("?", 1)[0]
    raw = scope["headers"]
    size = sum(map(len, chain.from_iterable(raw))) + 2 * len(raw)
    if size > MAX_HEADER_LINE and any(len(name) + 2 + len(value) > MAX_HEADER_LINE for name, value in raw):
        size = MAX_HEADER_SECTION + 1
    # ASGI asks servers to lower-case header names but does not require it: keyless does it itself.
    headers = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw]
    merged = dict(headers)
    if len(merged) < len(headers):  # a header sent more than once: its values joined with ','
        merged = {}
        for name, value in headers:
            merged[name] = f"{merged[name]},{value}" if name in merged else value
    client = scope.get("client")
    # Positional: keywords cost a slots dataclass twice as much to build, once per request.
    req = HttpRequest(scope["method"], path, scope.get("query_string", b"").decode("latin-1"), headers, b"", None,
                      client[0] if client else "127.0.0.1", merged)
    return req, size


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _incomplete()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestEntityTooLarge("Request body is too large.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """A receive() that hands over a body already read, once."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return pending.pop() if pending else {"type": "http.disconnect"}

    return receive


async def _body_stream(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _incomplete()
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _send_response(send: Send, resp: HttpResponse, *, head: bool) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers]
    body = resp.body
    if isinstance(body, (bytes, bytearray)):
        for name, _ in headers:
            if name == b"content-length":
                break
        else:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else bytes(body)})
        return
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    if not head:
        async for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
