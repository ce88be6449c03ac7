"""A side capture on a plain packet socket: filtered from its first frame, each frame at once.

The live workers read DNS responses on a second capture besides their fanout share, so
that an answer and the connection it names meet even when the kernel's fanout hash puts
them on two workers (``monitor/live/names.py``). For that join to hold every time, an
answer must be readable on the side capture no later than the connection's first frame
is on the main one. A libpcap handle cannot promise it: TPACKET_V3 hands frames over
in blocks that a timer closes, so an answer can still sit in an open block while the
connection's frames are already read. A plain ``AF_PACKET`` socket queues each frame as
it is delivered, in delivery order, so once a frame is read from the main capture every
answer that arrived before it is already waiting here.

The kernel filter is attached before the socket is bound: the socket is never handed a
frame the filter rejects (a libpcap handle receives everything between activation and
``setfilter``). The operator's ``--bpf`` is applied in user space, to the frame with its
VLAN tag put back where the kernel took it out, as libpcap does.

Receive-only: the socket never sends. Ethernet interfaces only.
"""

from __future__ import annotations

import array
import logging
import socket
import struct
import time
from pathlib import Path

import numpy as np

from monitor.capture.live import SYS_NET, CaptureOptions, LiveCapture
from monitor.model import CaptureError, FrameBatch

try:
    import pcapy  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - pcapy-ng is a declared dependency
    pcapy = None  # type: ignore[assignment,unused-ignore]

log = logging.getLogger(__name__)

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_STATISTICS = 6
PACKET_AUXDATA = 8
PACKET_MR_PROMISC = 1
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
ETH_P_8021Q = 0x8100
ARPHRD_ETHER = 1
_AUXDATA = struct.Struct("=IIIHHHH")  # struct tpacket_auxdata
_TIMESPEC = struct.Struct("=qq")
_CMSG_SPACE = socket.CMSG_SPACE(_AUXDATA.size) + socket.CMSG_SPACE(_TIMESPEC.size)
DROP_LOG_SECONDS = 60.0


def bpf_program(expr: str, snaplen: int) -> list[tuple[int, int, int, int]]:
    """``expr`` compiled for Ethernet: (code, jt, jf, k) per instruction."""
    if pcapy is None:
        raise CaptureError("pcapy-ng is not installed: live capture needs it")
    try:
        return list(pcapy.compile(pcapy.DLT_EN10MB, snaplen, expr, 1, 0xFFFFFFFF).get_bpf())
    except pcapy.PcapError as exc:
        raise CaptureError(f"bad filter expression {expr!r}: {exc}") from exc


def attach_filter(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> None:
    """``SO_ATTACH_FILTER``: a ``struct sock_fprog`` pointing at the packed instructions."""
    code = array.array("B", b"".join(struct.pack("=HBBI", *ins) for ins in program))
    address, _ = code.buffer_info()
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack("@HP", len(program), address))


def with_vlan_tag(frame: bytes, ancdata: list[tuple[int, int, bytes]]) -> bytes:
    """``frame`` with the VLAN tag the kernel moved into its auxiliary data put back."""
    for level, kind, data in ancdata:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= _AUXDATA.size:
            status, _, _, _, _, tci, tpid = _AUXDATA.unpack_from(data)
            if status & TP_STATUS_VLAN_VALID:
                tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else ETH_P_8021Q
                return frame[:12] + struct.pack("!HH", tpid, tci) + frame[12:]
    return frame


def _timestamp(ancdata: list[tuple[int, int, bytes]]) -> float | None:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return sec + nsec * 1e-9
    return None


class FilteredSocketCapture(LiveCapture):
    """:class:`LiveCapture`'s interface over one packet socket filtered by ``kernel_bpf``.

    ``options.bpf`` (the operator's filter) is applied in user space; ``options.buffer_bytes``
    sizes the socket's receive queue (the kernel caps it at ``net.core.rmem_max`` without
    ``CAP_NET_ADMIN``). :meth:`stats` reports the frames the queue had no room for.
    """

    def __init__(self, options: CaptureOptions, kernel_bpf: str, root: Path = SYS_NET) -> None:
        super().__init__(options)
        self.kernel_bpf = kernel_bpf
        self.root = root
        self._sock: socket.socket | None = None
        self._user_filter: object | None = None
        self._totals = [0, 0]  # frames the kernel queued (or dropped), and dropped
        self._drops_logged = 0
        self._next_drop_log = 0.0

    @property
    def is_open(self) -> bool:
        """True while the socket is open."""
        return self._sock is not None

    def open(self) -> None:
        """Create, filter, size and bind the socket (kept when already open); CaptureError
        when it cannot be."""
        if self._sock is not None:
            return
        o = self.options
        if _link_type(self.root, o.interface) != ARPHRD_ETHER:
            raise CaptureError(f"{o.interface} is not an Ethernet interface")
        program = bpf_program(self.kernel_bpf, o.snaplen)
        user = _compile_user(o.bpf, o.snaplen)
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # no frames yet
        except OSError as exc:
            raise CaptureError(f"cannot capture on {o.interface}: {exc.strerror}") from exc
        try:
            attach_filter(sock, program)
            _size_queue(sock, o.buffer_bytes)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            sock.bind((o.interface, ETH_P_ALL))  # frames from here on, filtered
            if o.promiscuous:
                index = socket.if_nametoindex(o.interface)
                mreq = struct.pack("=iHH8s", index, PACKET_MR_PROMISC, 0, b"")
                sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise CaptureError(f"cannot capture on {o.interface}: {exc.strerror}") from exc
        self._sock, self._user_filter, self._totals = sock, user, [0, 0]

    def fileno(self) -> int:
        """The socket's descriptor."""
        if self._sock is None:
            raise CaptureError(f"capture on {self.options.interface} is not open")
        return self._sock.fileno()

    def read(self, max_n: int = 4096) -> FrameBatch | None:
        """The frames queued now (up to ``max_n``) that pass ``options.bpf``; None when none.

        CaptureError when the socket failed (for example: the interface went away).
        """
        sock = self._sock
        if sock is None:
            return None
        frames: list[bytes] = []
        stamps: list[float] = []
        snaplen = self.options.snaplen
        for _ in range(max_n):
            try:
                data, ancdata, _, _ = sock.recvmsg(snaplen, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                raise CaptureError(f"capture on {self.options.interface} failed: {exc}") from exc
            frame = with_vlan_tag(data, ancdata)[:snaplen]
            if self._user_filter is not None and not self._user_filter.filter(frame):  # type: ignore[attr-defined]
                continue
            frames.append(frame)
            ts = _timestamp(ancdata)
            stamps.append(time.time() if ts is None else ts)
        self._log_drops()
        if not frames:
            return None
        caplen = np.fromiter((len(f) for f in frames), dtype=np.int64, count=len(frames))
        offset = np.zeros(len(frames), dtype=np.int64)
        np.cumsum(caplen[:-1], out=offset[1:])
        ts_arr = np.asarray(stamps, dtype=np.float64)
        wirelen = np.zeros(len(frames), dtype=np.int64)  # rebuilt from the IP header
        return FrameBatch(b"".join(frames), ts_arr, offset, caplen, wirelen, 1)

    def stats(self) -> tuple[int, int, int] | None:
        """(frames the filter admitted, of which dropped for want of room, 0) since opened."""
        if self._sock is None:
            return None
        try:
            raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        except OSError:
            return None
        packets, drops = struct.unpack("=II", raw)  # read and reset by the kernel
        self._totals[0] += packets
        self._totals[1] += drops
        return self._totals[0], self._totals[1], 0

    def _log_drops(self) -> None:
        now = time.monotonic()
        if now < self._next_drop_log:
            return
        self._next_drop_log = now + DROP_LOG_SECONDS
        stats = self.stats()
        if stats is not None and stats[1] > self._drops_logged:
            log.warning(
                "side capture on %s (%s): %d frames lost for want of room so far",
                self.options.interface,
                self.kernel_bpf,
                stats[1],
            )
            self._drops_logged = stats[1]

    def close(self) -> None:
        """Close the socket (idempotent)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


def _compile_user(expr: str | None, snaplen: int) -> object | None:
    if not expr or pcapy is None:
        return None
    try:
        return pcapy.compile(pcapy.DLT_EN10MB, snaplen, expr, 1, 0xFFFFFFFF)
    except pcapy.PcapError as exc:
        raise CaptureError(f"bad --bpf expression {expr!r}: {exc}") from exc


def _size_queue(sock: socket.socket, size: int) -> None:
    """A receive queue of ``size`` bytes: forced with CAP_NET_ADMIN, else up to rmem_max."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def _link_type(root: Path, name: str) -> int | None:
    try:
        return int((root / name / "type").read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
