"""A minimal HTTP/1.1 server for one instance's metadata service, on 127.0.0.1.

IMDS speaks a sliver of HTTP (GET, HEAD, PUT without a body worth reading, keep-alive), so a
small asyncio protocol serves it in the server's own event loop: no thread and no framework per
instance, and hundreds of instances cost hundreds of sockets, nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from email.utils import formatdate
from typing import Callable, cast

from keyless.imds.model import Answer
from keyless.imds.tree import REASONS, error

log = logging.getLogger("keyless.imds")

MAX_HEAD = 16 * 1024  # request line + headers
MAX_BODY = 64 * 1024
HOST = "127.0.0.1"
_REASONS = {200: "OK", 500: "Internal Server Error", **REASONS}


@dataclass(frozen=True, slots=True)
class ImdsRequest:
    method: str
    path: str  # without the query string
    headers: dict[str, str]  # lower-case names
    client_ip: str = HOST


Handler = Callable[[ImdsRequest], Answer]


class _Connection(asyncio.Protocol):
    def __init__(self, handler: Handler, connections: set[asyncio.Transport]) -> None:
        self._handler = handler
        self._connections = connections
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._peer = HOST

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # create_server makes stream transports
        self._connections.add(self._transport)
        peer = transport.get_extra_info("peername")
        self._peer = peer[0] if peer else HOST

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._connections.discard(self._transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._transport is not None and not self._transport.is_closing():
            if not self._serve_one():
                break

    def _serve_one(self) -> bool:
        """Answer one complete request from the buffer; False when more bytes are needed."""
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                self._reply(error(400), head=False, close=True)
            return False
        parsed = _parse_head(bytes(self._buffer[:end]).decode("latin-1"))
        if parsed is None:
            self._reply(error(400), head=False, close=True)
            return False
        method, target, version, headers = parsed
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY or "transfer-encoding" in headers:
            self._reply(error(400), head=False, close=True)
            return False
        total = end + 4 + int(length)
        if len(self._buffer) < total:
            return False
        del self._buffer[:total]
        close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        request = ImdsRequest(method, target.split("?", 1)[0], headers, self._peer)
        try:
            answer = self._handler(request)
        except Exception:
            log.exception("IMDS request %s %s failed", method, request.path)
            answer = Answer(500, b"", "text/plain")
        self._reply(answer, head=method == "HEAD", close=close)
        return True

    def _reply(self, answer: Answer, *, head: bool, close: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        lines = [
            f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Error')}",
            f"Content-Type: {answer.content_type}",
            f"Content-Length: {len(answer.body)}",
            f"Date: {formatdate(usegmt=True)}",
            "Server: EC2ws",
            "Connection: close" if close else "Connection: keep-alive",
        ]
        lines.extend(f"{name}: {value}" for name, value in answer.headers)
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else answer.body))
        if close:
            transport.close()


def _parse_head(head: str) -> tuple[str, str, str, dict[str, str]] | None:
    request_line, _, rest = head.partition("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    headers: dict[str, str] = {}
    for line in rest.split("\r\n") if rest else ():
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return None
        key = name.lower()
        headers[key] = f"{headers[key]},{value.strip()}" if key in headers else value.strip()
    return parts[0], parts[1], parts[2], headers


class Listener:
    """One port on 127.0.0.1 answering with `handler`; stop() also drops kept-alive connections,
    so a stopped instance stops answering at once."""

    def __init__(self, port: int, handler: Handler) -> None:
        self.port = port
        self._handler = handler
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Transport] = set()

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}/"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        sock = bind(self.port)
        self._server = await loop.create_server(lambda: _Connection(self._handler, self._connections), sock=sock)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for transport in list(self._connections):
            transport.close()
        await self._server.wait_closed()
        self._server = None


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:port (SO_REUSEADDR: a restart need not wait out TIME_WAIT)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
