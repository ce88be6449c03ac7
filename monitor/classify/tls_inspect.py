"""The TLS and QUIC part of the slow path: feeds a flow's handshake packets to its
:class:`~monitor.decode.tls_session.TlsSession` and turns what it learns into
observations, names and the client fingerprints of devices.

Observations: ``sni``/``quic_sni`` (the name the client asked for), ``tls_no_sni`` (a
complete ClientHello without one), ``tls_certificate`` (the server's leaf certificate,
its first name as value, its SHA-256 as detail). The fingerprints themselves stay on the
session (``flow.tls``), where the finding and the flow record take them from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from monitor.decode.tls import (
    CONTENT_HANDSHAKE,
    is_sslv2_client_hello,
    is_starttls_request,
    is_tls_record_start,
    proxy_header_length,
)
from monitor.decode.tls_session import TlsSession, quic_session, server_session
from monitor.flow.state import FlowState, Observation

NameHook = Callable[[FlowState, float, str, str], None]
ClientHook = Callable[[float, str, str, str], None]  # (ts, client address, ja4, ja3)
QUIC_MIN_INITIAL = 1200  # a client's Initial datagrams are padded to at least this


def _progress(s: TlsSession) -> tuple[object, ...]:
    return s.sni, s.ja4, s.ja3s, s.certificate, s.client_done, s.problem


def _start(flow: FlowState, payload: bytes, from_orig: bool) -> TlsSession | None:
    """The session of a flow whose payload shows TLS starting, else None: a client's hello
    (also after a PROXY header, or announced by a STARTTLS request), or a server's
    handshake when the client's hello was not captured."""
    if not from_orig:
        if payload[0] != CONTENT_HANDSHAKE or not is_tls_record_start(payload):
            return None
        flow.tls = server_session()
    elif is_tls_record_start(payload) or is_sslv2_client_hello(payload):
        flow.tls = TlsSession()
    elif proxy_header_length(payload) or is_starttls_request(payload):
        flow.tls = TlsSession()  # its client stream starts at the first TLS record
    return flow.tls


@dataclass(slots=True)
class TlsDissector:
    """TLS/QUIC handshakes of the flows the inspector hands over."""

    on_name: NameHook
    on_client: ClientHook | None = None
    problems: int = 0  # server handshakes or certificates that could not be read

    def tcp(self, flow: FlowState, payload: bytes, ts: float, from_orig: bool, seq: int) -> bool:
        """Take a TCP payload if the flow is TLS (or starts to be); False to leave it to the
        other dissectors."""
        session = flow.tls
        if session is None:
            session = _start(flow, payload, from_orig)
            if session is None:
                return False
            skip = proxy_header_length(payload) if from_orig else 0
            if skip:  # a load balancer's PROXY header before the client's hello
                payload, seq = payload[skip:], (seq + skip) % (1 << 32) if seq >= 0 else -1
        elif session.rejected:
            return False
        before = _progress(session)
        learned = (
            session.feed_client(seq, payload) if from_orig else session.feed_server(seq, payload)
        )
        if learned:
            self._learned(flow, ts, before)
        return not session.rejected

    def quic(self, flow: FlowState, payload: bytes, ts: float, from_orig: bool) -> None:
        """A UDP datagram that may carry a QUIC Initial (long header)."""
        if not payload[0] & 0x80:  # a short header (the fixed bit may be greased: RFC 9287)
            return
        session = flow.tls
        if from_orig:
            if session is None:
                if len(payload) < QUIC_MIN_INITIAL:
                    return
                session = flow.tls = quic_session()
            elif session.client_done and session.server_done:
                return
            before = _progress(session)
            if session.feed_quic_client(payload):
                self._learned(flow, ts, before)
        elif session is not None and session.transport == "q" and not session.server_done:
            before = _progress(session)
            if session.feed_quic_server(payload):
                self._learned(flow, ts, before)

    def _learned(self, flow: FlowState, ts: float, before: tuple[object, ...]) -> None:
        s = flow.tls
        assert s is not None
        sni, ja4, _, cert, client_done, problem = before
        if s.sni and not sni:
            self.on_name(flow, ts, "sni" if s.transport == "t" else "quic_sni", s.sni)
        ended = s.client_done and not client_done
        if ended and s.sni is None and s.transport == "t" and not s.rejected:
            flow.observations.append(Observation(ts, "tls_no_sni", ""))
        if s.ja4 and not ja4 and s.ja3 and self.on_client is not None:
            self.on_client(ts, flow.orig_addr, s.ja4, s.ja3)
        if s.certificate is not None and cert is None:
            names = s.certificate.names()
            first = names[0] if names else s.certificate.common_name or ""
            flow.observations.append(
                Observation(ts, "tls_certificate", first, s.certificate.sha256)
            )
        if s.problem and not problem:
            self.problems += 1
