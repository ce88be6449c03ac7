"""What the fuzzer feeds: every capture reader, the header decoder, the flow grouping,
every dissector and the whole pipeline. Each target takes bytes and raises on a bug.

A bug is an exception escaping a reader or dissector (they must turn any input into a
result, None or a damage record), or a C speedup disagreeing with its numpy/Python twin.
Memory errors in the C loops are caught by the sanitizers of the build the harness runs
on (``tools/fuzz/asan_build.py``); the same targets also run on the normal build in the
regression tests (``tests/fuzz``).
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import tempfile
from collections.abc import Callable

import numpy as np

import monitor.capture.pcapfile as pcapfile
import monitor.capture.pcapng as pcapng
import monitor.capture.window as read_window
from monitor.capture.offline import OfflineSource
from monitor.decode import dhcp, discovery, dns, http, natpmp, quic, tls, upnp
from monitor.decode.frames import DEFAULT_UDP_PORTS, decode_batch, decode_batch_numpy
from monitor.flow.grouping import group_batch, group_batch_numpy
from monitor.model import FrameBatch

Target = Callable[[bytes], None]

# 16 B .. 64 KiB: records and blocks cross window boundaries at every size
WINDOWS = [16 << i for i in range(13)]
LINKTYPES = [1, 1, 1, 113, 101, 228, 229, 12, 0, 108, 276, 9, 147]
ALL_UDP_PORTS = np.full(65536, 3, dtype=np.uint8)  # every port probed as VXLAN and Geneve
_TMP = tempfile.mkdtemp(prefix="cctv-fuzz-")


class TwinMismatch(AssertionError):
    """A C speedup and its twin gave different results for the same input."""


def read_all(path: str, batch_size: int) -> tuple[object, ...]:
    """Every frame of a capture (bytes, time, wire length, link type) and its summary."""
    source = OfflineSource([path], batch_size=batch_size)
    rows = [
        (bytes(b.data[int(o) : int(o) + int(c)]), float(t), int(w), b.linktype)
        for b in source.batches()
        for o, c, t, w in zip(b.offset, b.caplen, b.ts, b.wirelen, strict=True)
    ]
    s = source.summaries[0]
    return rows, s.packets, s.bytes, s.errors, s.truncated, s.format


def reader(data: bytes) -> None:
    """A capture file: byte 0 picks the read window, byte 1 the batch size, bit 0 of
    byte 2 gzip-compresses the rest. C and Python record walkers must agree."""
    if len(data) < 3:
        return
    window, batch_size, gz = WINDOWS[data[0] % len(WINDOWS)], 1 + data[1] % 64, data[2] & 1
    body = gzip.compress(data[3:], compresslevel=1, mtime=0) if gz else data[3:]
    path = os.path.join(_TMP, f"input-{os.getpid()}")
    with open(path, "wb") as fp:
        fp.write(body)
    saved = read_window.CHUNK_BYTES, pcapfile._records, pcapng._records
    try:
        read_window.CHUNK_BYTES = window
        with_c = read_all(path, batch_size)
        pcapfile._records = pcapng._records = None
        without_c = read_all(path, batch_size)
    finally:
        read_window.CHUNK_BYTES, pcapfile._records, pcapng._records = saved
    if with_c != without_c:
        raise TwinMismatch(f"record walkers differ: {with_c[1:]} vs {without_c[1:]}")


def frames_of(data: bytes) -> tuple[FrameBatch, np.ndarray]:
    """A batch from ``[linktype][ports][len hi][len lo][frame]...``; the UDP port table."""
    linktype = LINKTYPES[data[0] % len(LINKTYPES)] if data else 1
    ports = ALL_UDP_PORTS if len(data) > 1 and data[1] & 1 else DEFAULT_UDP_PORTS
    frames, pos = [], 2
    while pos + 2 <= len(data) and len(frames) < 256:
        size = int.from_bytes(data[pos : pos + 2], "big") % 2048
        frames.append(data[pos + 2 : pos + 2 + size])
        pos += 2 + size
    n = len(frames)
    caplen = np.array([len(f) for f in frames], dtype=np.int64)
    offset = np.concatenate(([0], np.cumsum(caplen)[:-1])).astype(np.int64) if n else caplen
    wirelen = caplen + np.arange(n, dtype=np.int64) % 3 * 40  # some frames cut by snaplen
    ts = 1.7e9 + np.arange(n, dtype=np.float64) * 0.001
    return FrameBatch(b"".join(frames), ts, offset, caplen, wirelen, linktype), ports


def decoder(data: bytes) -> None:
    """Frames of any link type through the C decoder and grouping and their numpy twins."""
    batch, ports = frames_of(data)
    if not len(batch):
        return
    c, py = decode_batch(batch, ports), decode_batch_numpy(batch, ports)
    for field in dataclasses.fields(c):
        if field.name == "batch":
            continue
        if not np.array_equal(getattr(c, field.name), getattr(py, field.name)):
            raise TwinMismatch(f"decoder column {field.name} differs")
    if py.ip.any():
        gc, gp = group_batch(c), group_batch_numpy(py)
        for field in dataclasses.fields(gc):
            a, b = np.asarray(getattr(gc, field.name)), np.asarray(getattr(gp, field.name))
            if not np.array_equal(a, b):
                raise TwinMismatch(f"grouping column {field.name} differs")


def port_mapping_of(data: bytes) -> object:
    """A UPnP AddPortMapping request in an HTTP request, or None."""
    req = http.parse_http_request(data)
    return upnp.parse_port_mapping_request(req) if req is not None else None


def _ssdp_flags(data: bytes) -> object:
    msg = upnp.parse_ssdp(data)
    return (upnp.is_igd_search(msg), upnp.is_igd_advert(msg)) if msg is not None else None


def _mdns_services(data: bytes) -> object:
    msg = dns.parse_dns(data)
    return (dns.mdns_services(msg), msg.names()) if msg is not None else None


def _quic_hello(data: bytes) -> object:
    initial = quic.parse_quic_initial(data)
    return initial.client_hello() if initial is not None else None


# name -> (dissector, type of a non-None result)
DISSECTORS: dict[str, tuple[Callable[[bytes], object], type | tuple[type, ...]]] = {
    "dns": (dns.parse_dns, dns.DnsMessage),
    "dns_tcp": (dns.parse_dns_tcp, list),
    "dns_tcp_partial": (lambda d: dns.parse_dns_tcp(d, allow_partial=True), list),
    "mdns_services": (_mdns_services, tuple),
    "tls_sni": (tls.client_hello_sni, str),
    "tls_alpn": (tls.client_hello_alpn, tuple),
    "tls_incomplete": (tls.client_hello_incomplete, bool),
    "tls_record_start": (tls.is_tls_record_start, bool),
    "tls_hello": (tls.parse_client_hello, tls.ClientHello),
    "tls_hello_message": (tls.parse_client_hello_message, tls.ClientHello),
    "quic_initial": (quic.parse_quic_initial, quic.QuicInitial),
    "quic_sni": (quic.quic_initial_sni, str),
    "quic_hello": (_quic_hello, tls.ClientHello),
    "quic_split_sni": (lambda d: quic.quic_initials_sni([d, d[::-1]]), str),
    "http_request": (http.parse_http_request, http.HttpRequest),
    "http_response": (http.parse_http_response, http.HttpResponse),
    "ssdp": (upnp.parse_ssdp, upnp.SsdpMessage),
    "ssdp_flags": (_ssdp_flags, tuple),
    "port_mapping": (port_mapping_of, upnp.PortMappingRequest),
    "natpmp_pcp": (natpmp.parse_natpmp_or_pcp, natpmp.MappingRequest),
    "dhcp": (dhcp.parse_dhcp, dhcp.DhcpMessage),
    "sadp_ether": (discovery.parse_sadp_ether, discovery.DiscoveryInfo),
    **{
        f"discovery_{port}": (
            lambda d, p=port: discovery.dissect_discovery(p, d),
            discovery.DiscoveryInfo,
        )
        for port in sorted(discovery.DISCOVERY_PORTS)
    },
}
DISSECTOR_NAMES = sorted(DISSECTORS)


def check_dissector(name: str, data: bytes) -> None:
    """One dissector on ``data``: None or a result of its type, never an exception."""
    function, expected = DISSECTORS[name]
    result = function(data)
    if result is not None and not isinstance(result, expected):
        raise TypeError(f"{name} returned {type(result).__name__}")


def dissectors(data: bytes) -> None:
    """Byte 0 picks the dissector, the rest is its payload."""
    if data:
        check_dissector(DISSECTOR_NAMES[data[0] % len(DISSECTOR_NAMES)], data[1:])


class _PipelineTarget:
    """Frames through the whole pipeline (decoders, inspectors, classifier, findings)."""

    def __init__(self) -> None:
        self._parts: tuple[object, object] | None = None

    def __call__(self, data: bytes) -> None:
        from monitor.pipeline import Pipeline  # the catalog loads once, on first use

        if self._parts is None:
            from monitor.classify.catalog import load_catalog
            from monitor.config import default_policy

            self._parts = (default_policy(), load_catalog())
        policy, catalog = self._parts
        batch, _ = frames_of(data)
        if len(batch):
            pipe = Pipeline(policy, catalog)  # type: ignore[arg-type]
            pipe.process(batch)
            pipe.finish()


TARGETS: dict[str, Target] = {
    "reader": reader,
    "decoder": decoder,
    "dissectors": dissectors,
    "pipeline": _PipelineTarget(),
}
