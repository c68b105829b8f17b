"""The account's default VPC as keyless models it: one VPC 172.31.0.0/16 and one subnet per
availability zone, with ids derived from the account so they are stable without being stored.
Instances get a free private IPv4 in the VPC, a locally administered MAC and a zone.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
import secrets

from keyless.services.ec2.errors import InvalidIPAddressInUse, InvalidParameterValue

VPC_CIDR = ipaddress.ip_network("172.31.0.0/16")
ZONE_LETTERS = "abcdef"


def _stable_hex(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:17]


def default_vpc_id(account: str, region: str) -> str:
    return "vpc-" + _stable_hex("vpc", account, region)


def default_subnet_id(account: str, availability_zone: str) -> str:
    return "subnet-" + _stable_hex("subnet", account, availability_zone)


def availability_zone(region: str, placement: dict[str, str] | None) -> str:
    """Placement.AvailabilityZone if it names a zone of this region, else REGIONa."""
    zone = (placement or {}).get("AvailabilityZone")
    if not zone:
        return region + "a"
    if not (zone.startswith(region) and len(zone) == len(region) + 1 and zone[-1] in ZONE_LETTERS):
        raise InvalidParameterValue(f"Invalid availability zone: [{zone}]")
    return zone


def mac_address() -> str:
    """0e:…: unicast and locally administered, like the MACs EC2 hands out."""
    return "0e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(5))


def private_ips(count: int, requested: str | None, used: set[str]) -> list[str]:
    """`count` free addresses in the VPC; the first one is `requested` when given."""
    chosen: list[str] = []
    if requested is not None:
        chosen.append(_check_requested(requested, used))
    taken = used | set(chosen)
    rng = random.SystemRandom()
    while len(chosen) < count:
        # .0-.3 and .255 of each /24 stay free, as AWS reserves the first four and the last of a subnet.
        candidate = f"172.31.{rng.randrange(0, 256)}.{rng.randrange(4, 255)}"
        if candidate not in taken:
            taken.add(candidate)
            chosen.append(candidate)
    return chosen


def _check_requested(address: str, used: set[str]) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise InvalidParameterValue(f"Invalid IPv4 address: {address}") from None
    if ip not in VPC_CIDR:
        raise InvalidParameterValue(f"Address {address} does not fall within the subnet's address range")
    if str(ip) in used:
        raise InvalidIPAddressInUse(f"Address {address} is in use.")
    return str(ip)
