"""Telling systemd (``Type=notify``) and the landing page how far the sensor is.

:class:`Notifier` is ``sd_notify`` with the standard library: one datagram per message to
the ``AF_UNIX`` socket named by ``$NOTIFY_SOCKET`` (an abstract socket when the name
starts with ``@``); without the variable it does nothing. :class:`Readiness` decides what
to say: ``READY=1`` once, the first time every capture worker reads its share of the
interface (before that ``cctv_capture_up`` is 0), ``STATUS=`` lines as the state changes,
``STOPPING=1`` at the stop.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends ``sd_notify`` messages to ``$NOTIFY_SOCKET`` (nothing without it).

    A message that cannot be sent is logged once and otherwise ignored: the sensor
    works the same without a service manager listening.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        name = env.get("NOTIFY_SOCKET", "")
        self.address: str | bytes | None = None
        if name.startswith("@"):
            self.address = b"\0" + name[1:].encode()  # abstract namespace
        elif name.startswith("/"):
            self.address = name
        self.sent: list[str] = []  # every message sent, in order (for tests and logs)
        self._warned = False

    def send(self, *fields: str) -> None:
        """One datagram holding ``fields`` (``READY=1``, ``STATUS=...``), one per line."""
        if self.address is None:
            return
        message = "\n".join(fields)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message.encode(), self.address)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot notify the service manager at %r: %s", self.address, exc)
            return
        self.sent.append(message)


class Readiness:
    """The sensor's start-up state: says READY=1 once every worker captures.

    A worker has *started* once its capture loop runs, and *captures* while its handle is
    open as well. READY=1 goes out the first time every expected worker captures, or has
    started and waits for the interface to come up (there is nothing to capture then, and
    ``cctv_capture_up`` stays 0 until there is). :attr:`text` is the state in words, for the
    landing page and ``STATUS=``.
    """

    def __init__(self, interface: str, expected: int, notifier: Notifier | None = None) -> None:
        self.interface = interface
        self.expected = expected
        self.notifier = notifier or Notifier()
        self.capturing = 0
        self.ready = False
        self.stopping = False
        self.text = f"starting: opening the capture on {interface}"
        self.notifier.send(f"STATUS={self.text}")

    def update(self, capturing: int, started: int, restarts: int = 0) -> None:
        """``capturing`` of the ``started`` workers read the interface now."""
        self.capturing = capturing
        if self.stopping:
            return
        text = self._describe(capturing, started, restarts)
        fields = [f"STATUS={text}"] if text != self.text else []
        if started == self.expected and not self.ready:
            self.ready = True
            fields.insert(0, "READY=1")
        self.text = text
        if fields:
            self.notifier.send(*fields)

    def stop(self) -> None:
        """STOPPING=1 (once)."""
        if not self.stopping:
            self.stopping = True
            self.text = "stopping: ending flows and writing the last alerts"
            self.notifier.send("STOPPING=1", f"STATUS={self.text}")

    def _describe(self, capturing: int, started: int, restarts: int) -> str:
        n, iface = self.expected, self.interface
        workers = "one process" if n == 1 else f"{n} workers"
        if capturing == n:
            text = f"capturing on {iface} ({workers})"
        elif started == n and capturing == 0:
            text = f"waiting for {iface} to come up ({workers})"
        elif not self.ready and started < n:
            text = f"starting: {started} of {n} capture workers reading {iface}"
        else:
            text = f"{capturing} of {n} capture workers reading {iface}"
        if restarts:
            text += f"; {restarts} worker restart{'s' if restarts != 1 else ''} so far"
        return text
