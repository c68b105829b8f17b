"""SigV4 verification, in the named steps botocore's SigV4Auth signs with (see
reference/sigv4.md):

    parse_authorization(req) -> SigV4Params | None     header or presigned query; None = anonymous
    verify(req, params, secret, now=, s3=)             time window, then
        canonical_request -> string_to_sign -> signing_key -> signature, compared in constant time

Pure: no I/O, no clock (the caller passes `now`). Error texts are AWS's, per protocol: query
services (IAM, STS, EC2, ...) and S3 word the same failures differently, hence the `s3` flags.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, AsyncIterator, NamedTuple
from urllib.parse import quote, unquote, unquote_to_bytes

from keyless import errors
from keyless.protocol.http import HttpRequest

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
MAX_SKEW_SECONDS = 15 * 60
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_PAYLOAD_KEYWORDS = frozenset({
    UNSIGNED_PAYLOAD, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER,
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
})
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_UNRESERVED = re.compile(r"[A-Za-z0-9\-_.~]*")
_PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders")

_QUERY_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                   "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
_S3_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.")
_S3_BAD_CREDENTIAL = 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'


# --- errors that only S3 names (the cross-service ones live in keyless.errors) ---------------


class AuthorizationQueryParametersError(errors.AwsError):
    code = "AuthorizationQueryParametersError"
    status = 400


class AuthorizationHeaderMalformed(errors.AwsError):
    code = "AuthorizationHeaderMalformed"
    status = 400


class RequestTimeTooSkewed(errors.AwsError):
    code = "RequestTimeTooSkewed"
    status = 403


class XAmzContentSHA256Mismatch(errors.AwsError):
    code = "XAmzContentSHA256Mismatch"
    status = 400


class InvalidRequest(errors.AwsError):
    code = "InvalidRequest"
    status = 400


class InvalidArgument(errors.AwsError):
    code = "InvalidArgument"
    status = 400


# --- values ----------------------------------------------------------------------------------


class SigV4Params(NamedTuple):
    """A request's SigV4 parameters. Build it with SigV4Params.of, which derives the last three
    fields. A named tuple: every freshly signed request builds one, and a frozen dataclass cost
    three times as much (2 µs)."""

    access_key_id: str
    date: str  # YYYYMMDD, from the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: datetime  # when the request was signed (UTC)
    timestamp: str  # the same instant as it appears in the string to sign: YYYYMMDDTHHMMSSZ
    security_token: str | None
    presigned: bool
    expires: int | None  # X-Amz-Expires (presigned)
    payload_hash_header: str | None  # x-amz-content-sha256 as sent
    # Derived once per parse (a header's parse is cached and reused by every request that sends it):
    scope: str  # date/region/service/aws4_request
    signed_at: float  # amz_date as epoch seconds
    signed_names: str  # "host;x-amz-date", as signed

    @classmethod
    def of(cls, access_key_id: str, date: str, region: str, service: str, signed_headers: tuple[str, ...],
           signature: str, amz_date: datetime, timestamp: str, security_token: str | None = None,
           presigned: bool = False, expires: int | None = None, payload_hash_header: str | None = None) -> SigV4Params:
        return cls(access_key_id, date, region, service, signed_headers, signature, amz_date, timestamp, security_token,
                   presigned, expires, payload_hash_header, f"{date}/{region}/{service}/{TERMINATOR}",
                   amz_date.timestamp(), ";".join(signed_headers))

    def __repr__(self) -> str:  # the session token stays out of logs and tracebacks
        return (f"SigV4Params(access_key_id={self.access_key_id!r}, scope={self.scope!r}, "
                f"signed_headers={self.signed_headers!r}, signature={self.signature!r}, timestamp={self.timestamp!r}, "
                f"presigned={self.presigned!r}, expires={self.expires!r}, payload_hash_header={self.payload_hash_header!r})")


class SigningContext(NamedTuple):
    """What a verified request leaves behind for checking aws-chunked chunk signatures. A named
    tuple: every signed request makes one, and a tuple costs half a frozen dataclass to build."""

    signing_key: bytes
    timestamp: str
    scope: str
    seed_signature: str

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"SigningContext(timestamp={self.timestamp!r}, scope={self.scope!r})"


# --- parsing ---------------------------------------------------------------------------------


def parse_authorization(req: HttpRequest, *, s3: bool | None = None) -> SigV4Params | None:
    """The request's SigV4 parameters, or None when it carries no signature at all.

    `s3` picks S3's error codes and texts; None decides from the credential scope's service.
    """
    auth = req.header("authorization")
    if auth is not None and auth.strip():
        return _parse_header(req, auth, s3)
    if "X-Amz-" in req.query_string:
        query = _raw_query_params(req.query_string)
        if any(name in query for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")):
            return _parse_query(req, query, s3)
    return None


def _parse_header(req: HttpRequest, auth: str, s3: bool | None) -> SigV4Params:
    headers = req.header_map
    raw_date = headers.get("x-amz-date")
    return _header_params(auth, raw_date, None if raw_date is not None else headers.get("date"), s3,
                          headers.get("x-amz-security-token"), headers.get("x-amz-content-sha256"))


@lru_cache(maxsize=4096)
def _header_params(auth: str, raw_date: str | None, http_date: str | None, s3: bool | None,
                   security_token: str | None, payload_hash_header: str | None) -> SigV4Params:
    """SigV4Params depend on these header values only (and are immutable), so each distinct set is
    parsed once: an SDK sends many requests within one second with the same ones."""
    _, found, after = auth.partition("Credential=")
    s3 = _is_s3(after.split(",", 1)[0].strip() if found else "", s3)
    algorithm, _, rest = auth.strip().partition(" ")
    fields = _header_fields(auth, rest, s3)
    credential = fields.get("Credential", "")
    if algorithm != ALGORITHM:
        if s3:
            raise InvalidRequest("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
        raise errors.IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}'.")
    when = _parse_amz_date(raw_date) if raw_date is not None else _parse_http_date(http_date)
    complete = fields.get("Credential") and fields.get("Signature") and fields.get("SignedHeaders")
    missing = [] if complete else [f"Authorization header requires '{n}' parameter."
                                   for n in ("Credential", "Signature", "SignedHeaders") if not fields.get(n)]
    if s3 and missing:
        raise AuthorizationHeaderMalformed("The authorization header is malformed; the authorization header requires "
                                           "three components: Credential, SignedHeaders, and Signature.")
    if when is None and s3:
        raise errors.AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
    if when is None and raw_date is not None and not missing:
        raise errors.IncompleteSignature(f"Date must be in ISO-8601 'basic format'. Got '{raw_date}'. "
                                         "See http://en.wikipedia.org/wiki/ISO_8601")
    if when is None:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if missing or when is None:
        raise errors.IncompleteSignature(" ".join(missing) + f" Authorization={auth}")
    key, date, region, service = _split_credential(credential, s3, presigned=False)
    # A valid x-amz-date is already the basic format the string to sign uses.
    timestamp = raw_date if raw_date is not None else when.strftime("%Y%m%dT%H%M%SZ")
    _check_scope_date(date, timestamp, s3, presigned=False)
    return SigV4Params.of(key, date, region, service, _split_signed_headers(fields["SignedHeaders"]), fields["Signature"],
                          when, timestamp, security_token, False, None, payload_hash_header)


def _parse_query(req: HttpRequest, query: dict[str, str], s3: bool | None) -> SigV4Params:
    s3 = _is_s3(query.get("X-Amz-Credential", ""), s3)
    for name in (*_PRESIGN_PARAMS, *(("X-Amz-Expires",) if s3 else ())):
        if not query.get(name):
            if s3:
                raise AuthorizationQueryParametersError(
                    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
            raise errors.IncompleteSignature(f"AWS query-string parameters must include '{name}'. "
                                             "Re-examine the query-string parameters.")
    if query["X-Amz-Algorithm"] != ALGORITHM:
        if s3:
            raise AuthorizationQueryParametersError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
        raise errors.IncompleteSignature(f"Unsupported AWS 'algorithm': '{query['X-Amz-Algorithm']}'.")
    when = _parse_amz_date(query["X-Amz-Date"])
    if when is None:
        if s3:
            raise AuthorizationQueryParametersError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
        raise errors.IncompleteSignature(f"Date must be in ISO-8601 'basic format'. Got '{query['X-Amz-Date']}'. "
                                         "See http://en.wikipedia.org/wiki/ISO_8601")
    key, date, region, service = _split_credential(query["X-Amz-Credential"], s3, presigned=True)
    _check_scope_date(date, query["X-Amz-Date"], s3, presigned=True)
    return SigV4Params.of(
        access_key_id=key, date=date, region=region, service=service,
        signed_headers=_split_signed_headers(query["X-Amz-SignedHeaders"]), signature=query["X-Amz-Signature"],
        amz_date=when, timestamp=query["X-Amz-Date"],
        security_token=query.get("X-Amz-Security-Token") or req.header("x-amz-security-token"),
        presigned=True, expires=_parse_expires(query.get("X-Amz-Expires"), s3),
        payload_hash_header=req.header("x-amz-content-sha256"),
    )


def _raw_query_params(query_string: str) -> dict[str, str]:
    # Not req.query: parse_qsl turns '+' into a space, and AWS does not.
    params: dict[str, str] = {}
    for part in query_string.split("&"):
        name, _, value = part.partition("=")
        if name.startswith("X-Amz-"):
            params.setdefault(name, unquote(value))
    return params


def _is_s3(credential: str, s3: bool | None) -> bool:
    if s3 is not None:
        return s3
    parts = credential.split("/")
    return len(parts) > 3 and parts[3] == "s3"


def _header_fields(auth: str, rest: str, s3: bool) -> dict[str, str]:
    """'Credential=..., SignedHeaders=..., Signature=...', with any whitespace around the parts."""
    fields: dict[str, str] = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        name, eq, value = part.partition("=")
        if not eq and s3:
            raise AuthorizationHeaderMalformed("The authorization header is malformed; the authorization header "
                                               "requires three components: Credential, SignedHeaders, and Signature.")
        if not eq:
            raise errors.IncompleteSignature(f"'{part}' not a valid key=value pair (missing equal-sign) in "
                                             f"Authorization header: '{auth}'.")
        if name.strip() in fields:  # routing reads the first Credential: two must not disagree
            if s3:
                raise AuthorizationHeaderMalformed(f"The authorization header is malformed; '{name.strip()}' is given "
                                                   "more than once.")
            raise errors.IncompleteSignature(f"'{name.strip()}' appears more than once in Authorization header: '{auth}'.")
        fields[name.strip()] = value.strip()
    return fields


def _split_credential(credential: str, s3: bool, *, presigned: bool) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        if s3 and presigned:
            raise AuthorizationQueryParametersError(f"Error parsing the X-Amz-Credential parameter; {_S3_BAD_CREDENTIAL}")
        if s3:
            raise AuthorizationHeaderMalformed(f"The authorization header is malformed; {_S3_BAD_CREDENTIAL}")
        raise errors.IncompleteSignature("Credential must have exactly 5 slash-delimited elements, "
                                         f"e.g. keyid/date/region/service/term, got '{credential}'")
    key, date, region, service, terminator = parts
    if terminator != TERMINATOR:
        if s3:
            text = f'incorrect terminal "{terminator}". This endpoint uses "{TERMINATOR}".'
            if presigned:
                raise AuthorizationQueryParametersError(f"Error parsing the X-Amz-Credential parameter; {text}")
            raise AuthorizationHeaderMalformed(f"The authorization header is malformed; {text}")
        raise errors.SignatureDoesNotMatch(f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
                                           f"not '{terminator}'.")
    return key, date, region, service


def check_service(params: SigV4Params, service: str, *, s3: bool) -> None:
    """The credential scope must name the service that serves the request: a signature made for
    one service never authorizes a call to another."""
    if params.service == service:
        return
    if s3:
        text = f'incorrect service "{params.service}". This endpoint belongs to "{service}".'
        if params.presigned:
            raise AuthorizationQueryParametersError(f"Error parsing the X-Amz-Credential parameter; {text}")
        raise AuthorizationHeaderMalformed(f"The authorization header is malformed; {text}")
    raise errors.SignatureDoesNotMatch(f"Credential should be scoped to correct service: '{service}'. ")


def _check_scope_date(date: str, timestamp: str, s3: bool, *, presigned: bool) -> None:
    if date == timestamp[:8]:
        return
    if s3 and presigned:
        raise AuthorizationQueryParametersError("Invalid credential date. Date is not the same as X-Amz-Date.")
    if s3:
        raise AuthorizationHeaderMalformed("The authorization header is malformed; Invalid credential date. "
                                           "Date is not the same as X-Amz-Date.")
    raise errors.SignatureDoesNotMatch("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                                       f"from HTTP: '{date}' != '{timestamp[:8]}', from '{timestamp}'.")


@lru_cache(maxsize=256)  # a client signs the same headers request after request
def _split_signed_headers(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(";") if name.strip())


@lru_cache(maxsize=256)  # every request a client signs within one second carries the same date
def _parse_amz_date(value: str) -> datetime | None:
    """YYYYMMDDTHHMMSSZ (ISO 8601 basic format), or None."""
    if len(value) != 16 or value[8] != "T" or value[15] != "Z" or not (value[:8] + value[9:15]).isdigit():
        return None
    try:
        return datetime(int(value[0:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]),
                        int(value[11:13]), int(value[13:15]), tzinfo=timezone.utc)
    except ValueError:
        return None


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _parse_expires(value: str | None, s3: bool) -> int | None:
    if value is None:
        return None
    if not value.lstrip("-").isdigit():
        if s3:
            raise AuthorizationQueryParametersError("X-Amz-Expires should be a number")
        raise errors.IncompleteSignature("X-Amz-Expires should be a number")
    expires = int(value)
    if expires < 0:
        if s3:
            raise AuthorizationQueryParametersError("X-Amz-Expires must be non-negative")
        raise errors.IncompleteSignature("X-Amz-Expires must be non-negative")
    return expires


# --- the signing steps -----------------------------------------------------------------------


def canonical_uri(raw_path: str, *, s3: bool) -> str:
    """S3 signs the path exactly as sent; other services sign it normalised, then encoded again."""
    if s3:
        return raw_path or "/"
    if raw_path in ("", "/"):
        return "/"
    return quote(_remove_dot_segments(raw_path), safe="/~")


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 5.2.4, plus the empty segments ('//') AWS also drops.
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if out:
                out.pop()
        elif segment and segment != ".":
            out.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and out else ""
    return first + "/".join(out) + last


def canonical_query_string(query_string: str, *, presigned: bool) -> str:
    """Each name and value decoded once ('+' stays '+'), re-encoded the AWS way, sorted."""
    if not query_string:
        return ""
    pairs = []
    for part in query_string.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if presigned and name == "X-Amz-Signature":
            continue
        pairs.append((_uri_encode(name), _uri_encode(value)))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def _uri_encode(text: str) -> str:
    if _UNRESERVED.fullmatch(text):
        return text
    return quote(unquote_to_bytes(text), safe="-_.~")


def canonical_headers(req: HttpRequest, signed_headers: tuple[str, ...]) -> str:
    """'name:value\\n' per signed header: values trimmed, inner whitespace runs collapsed, repeats joined by ','."""
    merged = req.header_map
    if len(merged) == len(req.headers):  # no header sent twice: each has one value to trim
        return "".join([_header_line(name, merged.get(name, "")) for name in signed_headers])
    values: dict[str, list[str]] = {name: [] for name in signed_headers}
    for name, value in req.headers:
        found = values.get(name)
        if found is not None:
            found.append(" ".join(value.split()))
    return "".join(f"{name}:{','.join(values[name])}\n" for name in signed_headers)


@lru_cache(maxsize=2048)  # a client sends the same host, content type and date (for a second) again and again
def _header_line(name: str, value: str) -> str:
    return f"{name}:{' '.join(value.split())}\n"


def payload_hash(req: HttpRequest, params: SigV4Params, *, s3: bool) -> str:
    if params.payload_hash_header is not None:
        return params.payload_hash_header
    if params.presigned and s3:
        return UNSIGNED_PAYLOAD
    return sha256_hex(req.body) if req.body else EMPTY_SHA256


def canonical_request(req: HttpRequest, params: SigV4Params, *, s3: bool) -> str:
    return (f"{req.method.upper()}\n{canonical_uri(req.raw_path, s3=s3)}\n"
            f"{canonical_query_string(req.query_string, presigned=params.presigned)}\n"
            f"{canonical_headers(req, params.signed_headers)}\n{params.signed_names}\n{payload_hash(req, params, s3=s3)}")


def string_to_sign(params: SigV4Params, canonical: str) -> str:
    return f"{ALGORITHM}\n{params.timestamp}\n{params.scope}\n{sha256_hex(canonical.encode('utf-8'))}"


@lru_cache(maxsize=512)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning, cached: it only changes with the key, the day, the region and the service."""
    k_date = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    return _hmac(_hmac(_hmac(k_date, region), service), TERMINATOR)


def signature(key: bytes, text: str) -> str:
    """HMAC-SHA256 (RFC 2104) from the key's two padded states: two hash copies per signature,
    where hmac.new/hmac.digest make OpenSSL 3 look the algorithm up again on every call."""
    inner_state, outer_state = _hmac_states(key)
    inner = inner_state.copy()
    inner.update(text.encode("utf-8"))
    outer = outer_state.copy()
    outer.update(inner.digest())
    return outer.hexdigest()


@lru_cache(maxsize=512)
def _hmac_states(key: bytes) -> tuple[Any, Any]:
    padded = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return (hashlib.sha256(bytes(b ^ 0x36 for b in padded)), hashlib.sha256(bytes(b ^ 0x5C for b in padded)))


def sha256_hex(data: bytes) -> str:
    digest = _SHA256.copy()  # a copy skips OpenSSL 3's per-call algorithm lookup
    digest.update(data)
    return digest.hexdigest()


_SHA256 = hashlib.sha256()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.digest(key, text.encode("utf-8"), "sha256")


# --- verification ----------------------------------------------------------------------------


def verify(req: HttpRequest, params: SigV4Params, secret_key: str, *, now: float, s3: bool) -> SigningContext:
    """Raise unless `params` is a valid, current signature of `req` by `secret_key`.

    The body hash is checked here for non-S3 requests (their body is already read); S3 checks a
    hex x-amz-content-sha256 where it reads the body (see PayloadHasher). Returns the context for
    verifying aws-chunked chunk signatures.
    """
    check_time(params, now=now, s3=s3)
    _check_payload_header(req, params, s3=s3)
    canonical = canonical_request(req, params, s3=s3)
    to_sign = string_to_sign(params, canonical)
    key = signing_key(secret_key, params.date, params.region, params.service)
    provided = params.signature  # compared as text when it can be: compare_digest takes ASCII str
    if not (provided.isascii() and hmac.compare_digest(signature(key, to_sign), provided)):
        raise _mismatch(params, canonical, to_sign, s3=s3)
    return SigningContext(key, params.timestamp, params.scope, params.signature)


def check_time(params: SigV4Params, *, now: float, s3: bool) -> None:
    """15 minutes of clock skew either way; S3 presigned URLs live for X-Amz-Expires instead."""
    signed_at = params.signed_at
    if params.presigned and s3:
        expires = params.expires or 0
        if expires > MAX_PRESIGN_EXPIRES:
            raise AuthorizationQueryParametersError(
                "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be "
                f"less than {MAX_PRESIGN_EXPIRES} seconds")
        if signed_at > now + MAX_SKEW_SECONDS:  # else a URL dated ahead would outlive the one-week cap
            raise errors.AccessDenied("Request is not valid yet")
        if now > signed_at + expires:
            raise errors.AccessDenied("Request has expired", **{
                "X-Amz-Expires": str(expires), "Expires": _iso(signed_at + expires), "ServerTime": _iso(now)})
        return
    if abs(now - signed_at) <= MAX_SKEW_SECONDS:
        return
    if s3:
        raise RequestTimeTooSkewed("The difference between the request time and the current time is too large.",
                                   RequestTime=params.timestamp, ServerTime=_iso(now),
                                   MaxAllowedSkewMilliseconds=str(MAX_SKEW_SECONDS * 1000))
    if signed_at < now:
        raise errors.SignatureDoesNotMatch(f"Signature expired: {params.timestamp} is now earlier than "
                                           f"{_basic(now - MAX_SKEW_SECONDS)} ({_basic(now)} - 15 min.)")
    raise errors.SignatureDoesNotMatch(f"Signature not yet current: {params.timestamp} is still later than "
                                       f"{_basic(now + MAX_SKEW_SECONDS)} ({_basic(now)} + 15 min.)")


def _check_payload_header(req: HttpRequest, params: SigV4Params, *, s3: bool) -> None:
    value = params.payload_hash_header
    if value is None:
        if s3 and not params.presigned:
            raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
        return
    if value in _PAYLOAD_KEYWORDS:
        if not s3:  # only S3 leaves a body out of the signature; elsewhere a swapped body must not verify
            raise errors.SignatureDoesNotMatch(_QUERY_MISMATCH)
        return
    if not _HEX64.fullmatch(value):
        if s3:
            raise InvalidArgument(
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
                "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
                "or a valid sha256 value.", ArgumentName="x-amz-content-sha256", ArgumentValue=value)
        raise errors.SignatureDoesNotMatch(_QUERY_MISMATCH)
    if not s3:  # the body is in hand: it must be the one that was hashed
        actual = sha256_hex(req.body)
        if not hmac.compare_digest(actual, value.lower()):
            raise errors.SignatureDoesNotMatch(_QUERY_MISMATCH)


def _mismatch(params: SigV4Params, canonical: str, to_sign: str, *, s3: bool) -> errors.AwsError:
    if not s3:
        return errors.SignatureDoesNotMatch(_QUERY_MISMATCH)
    # S3 shows its side of the computation (never the key) so clients can debug their signer.
    return errors.SignatureDoesNotMatch(
        _S3_MISMATCH, AWSAccessKeyId=params.access_key_id, StringToSign=to_sign,
        SignatureProvided=params.signature, StringToSignBytes=_spaced_hex(to_sign),
        CanonicalRequest=canonical, CanonicalRequestBytes=_spaced_hex(canonical))


def _spaced_hex(text: str) -> str:
    return " ".join(f"{byte:02x}" for byte in text.encode("utf-8"))


def _basic(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- S3 bodies: x-amz-content-sha256 checked while the body streams --------------------------


class PayloadHasher:
    """Hashes a body as it is read and compares it with the hex x-amz-content-sha256 at the end."""

    def __init__(self, expected_hex: str) -> None:
        self.expected = expected_hex.lower()
        self._hash = hashlib.sha256()

    @classmethod
    def for_request(cls, req: HttpRequest) -> PayloadHasher | None:
        """A hasher when the request declares a hex payload hash; None for UNSIGNED/STREAMING-*."""
        value = req.header("x-amz-content-sha256")
        return cls(value) if value is not None and _HEX64.fullmatch(value) else None

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def verify(self) -> None:
        actual = self._hash.hexdigest()
        if not hmac.compare_digest(actual, self.expected):
            raise XAmzContentSHA256Mismatch(
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                ClientComputedContentSHA256=self.expected, S3ComputedContentSHA256=actual)

    def check(self, body: bytes) -> None:
        """For a body read whole."""
        self.update(body)
        self.verify()

    async def wrap(self, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Pass the stream through, raising XAmzContentSHA256Mismatch after its last byte."""
        async for piece in stream:
            self.update(piece)
            yield piece
        self.verify()
