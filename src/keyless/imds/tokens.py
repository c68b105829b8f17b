"""IMDSv2 session tokens: opaque, bound to one boot of one instance, valid until their TTL.

AWS allows unlimited concurrent tokens per instance, so keyless keeps none: a token carries its
expiry and a MAC over (instance boot, expiry, nonce). The MAC key lives only in this process, so
tokens die with the server, as they die with an instance's reboot on AWS; SDKs fetch a new token
for every credential refresh anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct

from keyless.clock import Clock

MIN_TTL = 1
MAX_TTL = 21600  # six hours [v2]
_MAC_BYTES = 24
_CHECKED_LIMIT = 10_000


class TokenIssuer:
    def __init__(self, clock: Clock, key: bytes | None = None) -> None:
        self._clock = clock
        self._key = key or secrets.token_bytes(32)
        # Tokens already verified (an SDK sends one token with each of its requests).
        self._checked: dict[tuple[str, str], int] = {}

    def issue(self, boot: str, ttl: int) -> str:
        expiry = int(self._clock.time()) + ttl
        payload = struct.pack(">Q", expiry) + secrets.token_bytes(8)
        return _b64(payload + self._mac(boot, payload))

    def valid(self, token: str, boot: str) -> bool:
        """True for an unexpired token issued for this boot of this instance."""
        expiry = self._checked.get((token, boot))
        if expiry is None:
            expiry = self._verify(token, boot)
            if expiry is None:
                return False
            if len(self._checked) >= _CHECKED_LIMIT:
                self._checked.clear()
            self._checked[(token, boot)] = expiry
        return self._clock.time() < expiry

    def _verify(self, token: str, boot: str) -> int | None:
        """The token's expiry if its MAC is right for this boot, else None."""
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4))
        except (ValueError, UnicodeEncodeError):
            return None
        if len(raw) != 16 + _MAC_BYTES:
            return None
        payload, mac = raw[:16], raw[16:]
        if not hmac.compare_digest(mac, self._mac(boot, payload)):
            return None
        (expiry,) = struct.unpack(">Q", payload[:8])
        return int(expiry)

    def _mac(self, boot: str, payload: bytes) -> bytes:
        return hmac.new(self._key, boot.encode() + b"\0" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def parse_ttl(value: str | None) -> int | None:
    """The X-aws-ec2-metadata-token-ttl-seconds header as a TTL, or None if AWS would answer 400."""
    if value is None or not value.strip().isdigit():
        return None
    ttl = int(value.strip())
    return ttl if MIN_TTL <= ttl <= MAX_TTL else None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
