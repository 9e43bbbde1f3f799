"""Opening the consumer's one connection, and the back-off between attempts."""

from __future__ import annotations

from dataclasses import dataclass, field

from kombu.connection import Connection

from consumers.amqp.threads import allow_tables


@dataclass
class Backoff:
    """0.5 s, doubling up to ``cap``; reset once a connection consumes again."""

    first: float = 0.5
    cap: float = 30.0
    current: float = field(default=0.0)

    def next(self) -> float:
        self.current = self.first if not self.current else min(self.current * 2, self.cap)
        return self.current

    def reset(self) -> None:
        self.current = 0.0


def open_connection(url: str, *, heartbeat: int, connect_timeout: float, confirm_timeout: float,
                    name: str) -> Connection:
    """Connected, with publisher confirms and a write time-out (a broker memory alarm must not
    block a republish forever), named for the management UI; header tables allowed as deep as
    the negotiated frame size permits, before any delivery arrives."""
    conn = Connection(url, heartbeat=heartbeat, connect_timeout=connect_timeout,
                      transport_options={
                          "confirm_publish": True,
                          "write_timeout": confirm_timeout,
                          "client_properties": {"connection_name": name},
                      })
    conn.connect()
    allow_tables(conn.connection.frame_max)
    return conn
