"""A stand-in for systemd's notification socket: what ``Type=notify`` would hear from the sensor."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.waiting import scaled


class NotifySocket:
    """A datagram socket at ``path`` (pass ``env`` to the sensor); collects its messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[str] = []

    @property
    def env(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": str(self.path)}

    def fields(self) -> list[str]:
        """Every ``KEY=value`` line received so far, in order."""
        return [line for message in self.messages for line in message.splitlines()]

    def wait_for(self, field: str, seconds: float) -> list[str]:
        """Receive until a message holds the line ``field`` (AssertionError after
        ``scaled(seconds)``); every line so far."""
        end = time.monotonic() + scaled(seconds)
        while field not in self.fields():
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {field} within {scaled(seconds):g} s: {self.fields()}")
            self.sock.settimeout(left)
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue
        return self.fields()

    def drain(self) -> list[str]:
        """Take what waits without waiting; every line so far."""
        self.sock.setblocking(False)
        try:
            while True:
                self.messages.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            pass
        return self.fields()

    def close(self) -> None:
        self.sock.close()
