"""Identifier and key formats, as AWS writes them (see reference/sts-iam-ec2.md, "Key / ID prefixes")."""

from __future__ import annotations

import os
import random
import secrets
import string

_BASE32 = string.ascii_uppercase + "234567"
_SECRET_CHARS = string.ascii_letters + string.digits + "+/"


def _draw(alphabet: str, n: int) -> str:
    """n characters from the kernel's CSPRNG in one call (a call per character is slow here)."""
    value, base, out = int.from_bytes(secrets.token_bytes(n + 16), "big"), len(alphabet), []
    for _ in range(n):
        value, index = divmod(value, base)
        out.append(alphabet[index])
    return "".join(out)


def unique_id(prefix: str) -> str:
    """IAM unique ids: AIDA/AROA/AIPA/ANPA/ANVA + 17 base32 characters (21 in all), as AWS writes them."""
    return prefix + _draw(_BASE32, 17)


def user_id() -> str:
    return unique_id("AIDA")


def role_id() -> str:
    return unique_id("AROA")


def instance_profile_id() -> str:
    return unique_id("AIPA")


def policy_id() -> str:
    return unique_id("ANPA")


def access_key_id(temporary: bool = False) -> str:
    """AKIA... (long-term) or ASIA... (session); 20 characters."""
    return ("ASIA" if temporary else "AKIA") + _draw(_BASE32, 16)


def secret_access_key() -> str:
    return _draw(_SECRET_CHARS, 40)


def hex_id(prefix: str, n: int = 17) -> str:
    """EC2 style: i-, r-, iip-assoc- + 17 lower-case hex digits."""
    return prefix + secrets.token_hex((n + 1) // 2)[:n]


# Request and event ids are not secrets: a fast PRNG seeded once from the OS gives unique,
# UUID-shaped ids without a system call per request.
_fast = random.Random(os.urandom(32))


_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)  # the version nibble and the RFC 4122 variant bits
_VERSION_7 = (0x7000 << 64) | (0x8000 << 48)
_VERSION_BITS = (0xF000 << 64) | (0xC000 << 48)


def request_id() -> str:
    """A random version-4 UUID in its usual text form (what uuid.UUID would print, a third of the cost)."""
    return _uuid_text(_fast.getrandbits(128) & ~_VERSION_BITS | _VERSION_4)


def event_id(epoch: float) -> str:
    """A version-7 UUID (RFC 9562): milliseconds first, then random bits. Ids made in time order
    sort in time order, so the trail's indexes grow at their end instead of splitting pages at
    random places (a random id cost its insert several microseconds)."""
    return _uuid_text((int(epoch * 1000) << 80) | (_fast.getrandbits(80) & ~_VERSION_BITS) | _VERSION_7)


def _uuid_text(bits: int) -> str:
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
