"""A batch's AMQP frames written together instead of one ``sendall`` per message.

The publisher's socket carries a timeout (consumers/amqp/confirms.py), so each ``sendall`` costs
a ``poll`` as well as the ``send``; one write per message was the relay's largest cost. The
timeout still bounds every write: a broker that stopped reading fails the batch as before.
"""

from __future__ import annotations

from typing import Any, Final

#: gathered frames are written once they reach this many bytes (and at the end of a batch)
WRITE_CHUNK: Final = 256 * 1024


class GatheredWrites:
    """Stands in for the transport while a batch is framed: py-amqp's frame writer hands it each
    frame (a view of a buffer it reuses, hence the copy); :meth:`flush` writes them as one."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.frames: list[bytes] = []
        self.size = 0

    def write(self, frame: Any) -> None:
        self.frames.append(bytes(frame))
        self.size += len(frame)
        if self.size >= WRITE_CHUNK:
            self.flush()

    def discard(self) -> None:
        self.frames, self.size = [], 0

    def flush(self) -> None:
        if self.frames:
            data = b"".join(self.frames)
            self.discard()
            self.transport.write(data)
