"""Choosing an instance's metadata port: once, at launch, kept in the store for the instance's
life (across stops and server restarts), so `keyless env` output stays valid.

Ports come from a range below Linux's ephemeral range (32768+), where outgoing connections would
otherwise grab them between restarts; a candidate must be unused by other instances and
bindable on 127.0.0.1 right now.
"""

from __future__ import annotations

import random
from typing import Collection

from keyless.imds.listener import bind

PORT_RANGE = range(20000, 32000)
_ATTEMPTS = 200


class NoFreePort(RuntimeError):
    pass


def allocate_port(taken: Collection[int]) -> int:
    rng = random.SystemRandom()
    for _ in range(_ATTEMPTS):
        port = rng.choice(PORT_RANGE)
        if port in taken:
            continue
        try:
            bind(port).close()
        except OSError:
            continue
        return port
    raise NoFreePort(f"no free port for an instance metadata service in {PORT_RANGE.start}-{PORT_RANGE.stop - 1}")
