"""One flow's TLS handshake as far as it travels in clear: the client's hello (its SNI,
JA3 and JA4), the server's hello (JA3S) and, up to TLS 1.2, the server's certificate.

Each direction is put back in TCP sequence order within a bound (:mod:`monitor.decode.
tcp_stream`): 16 KiB of the client's stream for its hello, 16 KiB of the server's for its
hello and the leaf certificate (the first of the chain: the rest is not needed). What
reaches the bound unread is left unread and said in ``problem``. QUIC carries the hellos
in Initial packets: the client's are reassembled from their CRYPTO frames over up to
eight datagrams, the server's hello is read from its first Initial.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from monitor.decode.tcp_stream import StreamBuffer
from monitor.decode.tls import (
    ClientHello,
    client_hello_incomplete,
    is_sslv2_client_hello,
    parse_client_hello,
    parse_client_hello_message,
    tls_stream_start,
)
from monitor.decode.tls_certificates import CertificateError, parse_certificate
from monitor.decode.tls_fingerprints import ServerHello, ja3, ja3s, ja4
from monitor.decode.tls_server import HANDSHAKE_SERVER_HELLO, parse_server_hello, read_server_flight
from monitor.model import TlsCertificate

CLIENT_LIMIT = 16384  # bytes of the client's stream kept for its hello
SERVER_LIMIT = 16384  # bytes of the server's stream kept for its hello and leaf certificate
QUIC_DATAGRAMS = 8  # Initial datagrams read per side for a hello
CERTIFICATE_CACHE = 1024  # distinct certificates kept parsed (a server sends the same one)


@lru_cache(maxsize=CERTIFICATE_CACHE)
def _certificate(der: bytes) -> TlsCertificate | str:
    """The certificate, or why it could not be read (cached: one parse per certificate)."""
    try:
        return parse_certificate(der)
    except CertificateError as exc:
        return str(exc)


def _stream() -> StreamBuffer:
    return StreamBuffer(CLIENT_LIMIT, tls_stream_start)


@dataclass(slots=True)
class TlsSession:
    """The TLS state of one flow (``transport``: ``t`` TCP or ``q`` QUIC).

    The ``feed_*`` methods return True when they learned something new. ``client_done``
    and ``server_done`` say a side has nothing more to show; ``problem`` why the server
    side ended without a certificate when that was not normal (bound hit, not TLS,
    unreadable certificate).
    """

    transport: str = "t"
    client: StreamBuffer | None = field(default_factory=_stream)
    server: StreamBuffer | None = field(
        default_factory=lambda: StreamBuffer(SERVER_LIMIT, tls_stream_start)
    )
    sni: str | None = None
    hello: ClientHello | None = None  # the complete ClientHello
    ja3: str | None = None
    ja4: str | None = None
    server_hello: ServerHello | None = None
    ja3s: str | None = None
    certificate: TlsCertificate | None = None
    problem: str | None = None
    client_done: bool = False
    server_done: bool = False
    rejected: bool = False  # the client's first bytes looked like TLS, the rest did not
    quic_dcids: list[bytes] = field(default_factory=list)  # the client's Initial DCIDs
    quic_crypto: list[tuple[int, bytes]] = field(default_factory=list)
    quic_seen: tuple[int, int] = (0, 0)  # Initial datagrams read: client, server

    @property
    def following(self) -> bool:
        """Whether more packets of the flow may still show something."""
        return not (self.client_done and self.server_done)

    def names_pending(self) -> bool:
        """Whether the flow's name may still come: its SNI, else the server certificate."""
        if self.sni is not None:
            return False
        return not self.client_done or not self.server_done

    # -- TLS over TCP -----------------------------------------------------------------------
    def feed_client(self, seq: int, payload: bytes) -> bool:
        """A client segment (``seq`` -1 when unknown)."""
        buf = self.client
        if buf is not None and buf.base is None and is_sslv2_client_hello(payload):
            self._client_end()  # no extensions: no SNI, no JA3 (as Wireshark), no JA4
            return True
        if buf is None or not (buf.add(seq, payload) or buf.full):
            return False
        stream = bytes(buf.data)
        hello = parse_client_hello(stream)
        learned = False
        if hello is not None and hello.sni and self.sni is None:
            self.sni = hello.sni
            learned = True
        if client_hello_incomplete(stream) and not buf.full:
            return learned
        if hello is not None and hello.complete:
            self._client_hello(hello)
            return True
        self.rejected = hello is None and not buf.full  # no TLS after all
        self._client_end()  # a bad or cut hello: no fingerprint
        if self.rejected:
            self._server_end(None)
        return True

    def feed_server(self, seq: int, payload: bytes) -> bool:
        """A server segment (``seq`` -1 when unknown)."""
        buf = self.server
        if buf is None or not (buf.add(seq, payload) or buf.full):
            return False
        flight = read_server_flight(bytes(buf.data))
        learned = False
        if flight.hello is not None and self.server_hello is None:
            self.server_hello = flight.hello
            self.ja3s = ja3s(flight.hello)
            learned = True
        if flight.leaf is not None:
            cert = _certificate(flight.leaf)
            if isinstance(cert, str):
                self.problem = cert
            else:
                self.certificate = cert
            learned = True
        if flight.done:
            self._server_end("the server stream is not TLS" if flight.malformed else None)
        elif buf.full:
            self._server_end(f"no certificate within the first {SERVER_LIMIT} bytes")
        return learned or self.server_done

    def _client_hello(self, hello: ClientHello) -> None:
        self.hello = hello
        self.ja3 = ja3(hello)
        self.ja4 = ja4(hello, self.transport)
        self._client_end()

    def _client_end(self) -> None:
        self.client_done = True
        self.client = None  # its bytes are not needed any more

    def _server_end(self, problem: str | None) -> None:
        self.server_done = True
        self.server = None
        if problem and self.problem is None:
            self.problem = problem

    # -- QUIC ---------------------------------------------------------------------------------
    def feed_quic_client(self, datagram: bytes) -> bool:
        """A client datagram that may hold an Initial packet."""
        from monitor.decode import quic  # cryptography: imported when QUIC is first seen

        if self.client_done:  # the DCIDs a server's Initial may take its keys from
            if not self.server_done:
                self._note_dcid(quic.initial_dcid(datagram))
            return False
        seen_client, seen_server = self.quic_seen
        self.quic_seen = (seen_client + 1, seen_server)
        initial = quic.parse_quic_initial(datagram)  # a first Initial: keys from its DCID
        if initial is not None:
            if self.quic_dcids and initial.dcid != self.quic_dcids[-1]:
                self.quic_crypto = []  # a new attempt (after a Retry, say): its hello anew
            self._note_dcid(initial.dcid)
        else:  # a later one: the client took the server's id, the keys stay the first's
            for dcid in self.quic_dcids[-1:]:
                initial = quic.parse_quic_initial(datagram, key_dcid=dcid)
        if initial is not None:
            self.quic_crypto.extend(initial.crypto)
            hello = parse_client_hello_message(quic.reassemble_crypto(self.quic_crypto))
            learned = False
            if hello is not None and hello.sni and self.sni is None:
                self.sni = hello.sni
                learned = True
            if hello is not None and hello.complete:
                self.quic_crypto = []
                self._client_hello(hello)
                return True
            if learned:
                return True
        if seen_client + 1 >= QUIC_DATAGRAMS:
            self._client_end()
            return True
        return False

    def _note_dcid(self, dcid: bytes | None) -> None:
        if dcid is not None and dcid not in self.quic_dcids and len(self.quic_dcids) < 4:
            self.quic_dcids.append(dcid)

    def feed_quic_server(self, datagram: bytes) -> bool:
        """A server datagram that may hold its Initial packet (with the ServerHello): its
        keys come from the client's DCID (the newest first: after a Retry, the new one)."""
        if self.server_done or not self.quic_dcids:
            return False
        from monitor.decode import quic

        seen_client, seen_server = self.quic_seen
        self.quic_seen = (seen_client, seen_server + 1)
        for dcid in reversed(self.quic_dcids):
            initial = quic.parse_quic_initial(datagram, key_dcid=dcid, server=True)
            if initial is not None:
                break
        message = quic.reassemble_crypto(initial.crypto) if initial is not None else b""
        if len(message) >= 4 and message[0] == HANDSHAKE_SERVER_HELLO:
            hello = parse_server_hello(message[4 : 4 + int.from_bytes(message[1:4], "big")])
            if hello is not None:
                self.server_hello = hello
                self.ja3s = ja3s(hello)
                self._server_end(None)  # QUIC is TLS 1.3: no certificate in clear
                return True
        if seen_server + 1 >= QUIC_DATAGRAMS:
            self._server_end(None)
            return True
        return False


def quic_session() -> TlsSession:
    """The session of a QUIC flow (no TCP streams to keep)."""
    return TlsSession(transport="q", client=None, server=None)


def server_session() -> TlsSession:
    """The session of a TCP flow whose client hello was not seen (the capture started
    after it): the server's side is still read."""
    return TlsSession(client=None, client_done=True)
