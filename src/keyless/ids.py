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
    """A random version-4 UUID in its usual text form (what uuid.UUID would print, a sixth of the
    cost): hex in 4-digit groups, joined as 8-4-4-4-12."""
    groups = (_fast.getrandbits(128) & ~_VERSION_BITS | _VERSION_4).to_bytes(16, "big").hex("-", 2)
    return f"{groups[:4]}{groups[5:29]}{groups[30:34]}{groups[35:]}"


_EVENT_MARK = 0x6B5  # the 12 bits after a trail event id's version: the rest says where it is stored


def event_id(epoch: float, segment: int, position: int) -> str:
    """The id of the event at `position` in trail segment `segment`: a version-7 UUID (RFC 9562),
    milliseconds first so ids sort in time order, and the place it is stored in the low bits, so
    the trail stores no ids and finds an event from its id alone."""
    return _uuid_text((int(epoch * 1000) << 80) | (0x7000 | _EVENT_MARK) << 64 | 0x8000 << 48 | segment << 20 | position)


def event_place(text: str) -> tuple[int, int] | None:
    """(segment, position) of an id event_id() made, else None."""
    try:
        bits = int(text.replace("-", ""), 16)
    except ValueError:
        return None
    if len(text) != 36 or (bits >> 64) & 0xFFFF != 0x7000 | _EVENT_MARK or (bits >> 62) & 0b11 != 0b10:
        return None
    return (bits >> 20) & ((1 << 42) - 1), bits & 0xFFFFF


def _uuid_text(bits: int) -> str:
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
