"""The HTTP request and response as the pipeline passes them between steps.

The server builds an HttpRequest from the ASGI scope; protocol parsers read it; serializers
return an HttpResponse the server writes back. Header names are lower-case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import AsyncIterator, Union
from urllib.parse import parse_qsl, unquote

Body = Union[bytes, AsyncIterator[bytes]]


@dataclass(slots=True)
class HttpRequest:
    method: str
    raw_path: str  # as sent, still percent-encoded (SigV4 for S3 signs it verbatim)
    query_string: str  # raw, without the '?'
    headers: list[tuple[str, str]]  # (lower-case name, value), in order received
    body: bytes = b""
    # For streaming payloads (S3 PutObject/UploadPart) the server leaves the body unread and
    # puts an async byte iterator here; parsers hand it to the handler untouched.
    stream: AsyncIterator[bytes] | None = None
    client_ip: str = "127.0.0.1"
    _header_map: dict[str, str] | None = field(default=None, repr=False)
    _query: list[tuple[str, str]] | None = field(default=None, repr=False)
    # Filled once by keyless.protocol: the decoded form parameters (query/ec2, see
    # keyless.protocol.form.form_params) and the matched operation with its URI labels (rest-xml).
    _form: dict[str, str] | None = field(default=None, repr=False)
    _route: tuple[str, dict[str, str]] | None = field(default=None, repr=False)  # (operation, labels)

    @property
    def path(self) -> str:
        """Percent-decoded path."""
        return unquote(self.raw_path)

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header's value (repeated headers joined with ',', as HTTP allows)."""
        if self._header_map is None:
            merged: dict[str, str] = {}
            for k, v in self.headers:
                merged[k] = f"{merged[k]},{v}" if k in merged else v
            self._header_map = merged
        return self._header_map.get(name, default)

    @property
    def header_map(self) -> dict[str, str]:
        if self._header_map is None:
            self.header("")
        return self._header_map  # type: ignore[return-value]  # header() has built it

    @property
    def query(self) -> list[tuple[str, str]]:
        """Decoded query pairs, blank values kept ('?policy' gives ('policy', ''))."""
        if self._query is None:
            self._query = parse_qsl(self.query_string, keep_blank_values=True)
        return self._query

    def query_param(self, name: str) -> str | None:
        for k, v in self.query:
            if k == name:
                return v
        return None


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Body = b""
