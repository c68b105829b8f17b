"""The trail writer process: stores the batches of events the server's recorder hands it.

    python -m keyless.trail.writer DATA_DIR

Reads frames from stdin (a 4-byte big-endian length, then a pickled list of pending calls and
ready-made records, see trail/recorder.py), stores each batch in one transaction, and answers
each frame with a line "<stored> <failed>" on stdout. It ends when stdin closes, after storing
everything it was sent, so what the server handed over survives the server being killed.

Shaping and storing events is most of the trail's cost; in a process of its own it runs on the
other core instead of taking turns with the request path for the server's GIL.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
from pathlib import Path
from typing import BinaryIO

from keyless.store import trail as trail_store
from keyless.store.db import Database

log = logging.getLogger("keyless.trail")


def read_frame(stream: BinaryIO) -> bytes | None:
    """One frame's payload, or None at the end of the stream (a cut-off frame counts as the end)."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    size = int.from_bytes(head, "big")
    payload = stream.read(size)
    return payload if len(payload) == size else None


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def serve(db: Database, inbox: BinaryIO, outbox: BinaryIO) -> None:
    while (payload := read_frame(inbox)) is not None:
        batch = pickle.loads(payload)  # from the server that started this process, over its own pipe
        try:
            with db.begin(iam=False) as conn:
                stored, failed = trail_store.insert(conn, batch), 0
        except Exception:  # a batch that cannot be stored is reported as lost, not retried forever
            log.exception("could not store %d trail events", len(batch))
            stored, failed = 0, len(batch)
        outbox.write(f"{stored} {failed}\n".encode())
        outbox.flush()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    # Ctrl-C in a terminal reaches the whole process group; the writer stops when the server
    # closes its stdin instead, so the events of a server shutting down are stored, not lost.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(10)  # background work: under full load the request path comes first (a full queue is counted)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    db = Database.open(Path(args[0]))
    try:
        serve(db, sys.stdin.buffer, sys.stdout.buffer)
    finally:
        db.close()


if __name__ == "__main__":
    main()
