"""Every public dissector returns a result or None on any bytes, and never raises.

The dissector table is the fuzz harness's (``tools/fuzz/targets.py``): one list to extend.
"""

from __future__ import annotations

import json
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRSRV
from scapy.layers.tls.all import TLS, ServerName, TLS_Ext_ServerName, TLSClientHello

from monitor.decode import discovery, dns, natpmp, quic, tls
from tools.fuzz.targets import DISSECTOR_NAMES, check_dissector, port_mapping_of


def _quic_initial() -> bytes:
    """The RFC 9001 A.2 client Initial (encrypted here with the module's key schedule)."""
    frame = bytes.fromhex(
        "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
        "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
        "616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
        "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
        "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
        "0d0010000e0403050306030203080408050806002d00020101001c0002400100"
        "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
        "75300901100f088394c8f03e51570806048000ffff"
    )
    header = bytes.fromhex("c300000001088394c8f03e5157080000449e00000002")
    secrets = quic.initial_secrets(quic.QUIC_V1, bytes.fromhex("8394c8f03e515708"))
    assert secrets is not None
    _, key, iv, hp = secrets
    nonce = (int.from_bytes(iv, "big") ^ 2).to_bytes(12, "big")
    payload = frame + bytes(1162 - len(frame))
    packet = bytearray(header + AESGCM(key).encrypt(nonce, payload, header))
    encryptor = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = encryptor.update(bytes(packet[22:38])) + encryptor.finalize()
    packet[0] ^= mask[0] & 0x0F
    for i in range(4):
        packet[18 + i] ^= mask[1 + i]
    return bytes(packet)


def _seeds() -> list[bytes]:
    hello = bytes(
        TLS(
            msg=[
                TLSClientHello(
                    ext=[TLS_Ext_ServerName(servernames=[ServerName(servername=b"a.example")])]
                )
            ]
        )
    )
    mdns = bytes(
        DNS(
            qr=1,
            qd=[DNSQR(qname="_axis-video._tcp.local", qtype="PTR")],
            an=[
                DNSRR(
                    rrname="_axis-video._tcp.local",
                    type="PTR",
                    rdata="AXIS Q - ACCC8E000001._axis-video._tcp.local",
                )
            ],
            ar=[
                DNSRRSRV(rrname="AXIS Q - ACCC8E000001._axis-video._tcp.local", target="cam.local"),
                DNSRR(rrname="cam.local", rdata="10.0.0.9"),
                DNSRR(rrname="cam.local", type="TXT", rdata=[b"macaddress=ACCC8E000001"]),
            ],
        )
    )
    compressed = (
        b"\x12\x34\x81\x80\x00\x01\x00\x02\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01"
        b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x01\x2c\x00\x06\x03cdn\xc0\x10"
        b"\xc0\x2d\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x07"
    )
    soap = (
        b"POST /ctl HTTP/1.1\r\n"
        b'SOAPAction: "urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"'
        b"\r\nHost: 10.0.0.1:5000\r\n\r\n<u:AddPortMapping><NewExternalPort>80</NewExternalPort>"
        b"<NewProtocol>TCP</NewProtocol><NewInternalClient>10.0.0.9</NewInternalClient>"
        b"</u:AddPortMapping>"
    )
    dhip_body = json.dumps(
        {
            "mac": "3c:ef:8c:00:00:01",
            "method": "client.notifyDevInfo",
            "params": {
                "deviceInfo": {"DeviceType": "IPC", "IPv4Address": {"IPAddress": "10.0.0.2"}}
            },
        }
    ).encode()
    xm_body = json.dumps(
        {"NetWork.NetCommon": {"HostIP": "0x0A01A8C0", "MAC": "00:12:31:00:00:01"}}
    ).encode()
    dahua = bytearray(120)
    dahua[0:4] = b"\xb3\x00\x15\x00"
    return [
        compressed,
        mdns,
        struct.pack("!H", len(compressed)) + compressed + struct.pack("!H", len(mdns)) + mdns,
        hello,
        hello[:60] + b"\x16\x03\x01\x00\x10" + hello[60:76],
        _quic_initial(),
        b"GET /x HTTP/1.1\r\nHost: cam.example:8080\r\nUser-Agent: t\r\n\r\nbody",
        b"DESCRIBE rtsp://10.0.0.9/ch1 RTSP/1.0\r\nCSeq: 2\r\n\r\n",
        b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="x"\r\nServer: s\r\n\r\n',
        b"M-SEARCH * HTTP/1.1\r\nST: urn:schemas-upnp-org:service:WANIPConnection:1\r\n"
        b"MAN: x\r\n\r\n",
        soap,
        b"\x00\x02\x00\x00\x1f\x90\x1f\x90\x00\x00\x1c\x20",
        b"\x02\x01\x00\x00\x00\x00\x1c\x20"
        + bytes(10)
        + b"\xff\xff\x0a\x00\x00\x09"
        + b"N" * 12
        + b"\x06\x00\x00\x00\x02\x2a\x02\x2a"
        + bytes(16),
        b"<?xml version='1.0'?><ProbeMatch><DeviceSN>X</DeviceSN><MAC>44-19-b6-00-00-01</MAC>"
        b"</ProbeMatch>",
        b"\x20\x00\x00\x00DHIP"
        + bytes(8)
        + struct.pack("<IIII", len(dhip_body), 0, len(dhip_body), 0)
        + dhip_body,
        bytes(dahua) + b"3c:ef:8c:00:00:01IPC-X" + b"SerialNo:1\r\n",
        b"<e:Envelope><e:Body><d:ProbeMatches><d:Scopes>onvif://www.onvif.org/name/A%20B</d:Scopes>"
        b"<d:XAddrs>http://10.0.0.9/onvif</d:XAddrs></d:ProbeMatches></e:Body></e:Envelope>",
        struct.pack("<BBHIIHHI", 255, 0, 0, 0, 0, 0, 1531, len(xm_body)) + xm_body,
        bytes([0x21, 2, 1, 0xF6, 0, 0, 0, 1, 6, 4, 4, 1, 0, 0])
        + bytes(range(24))
        + b"SERIAL"
        + bytes(200),
    ]


SEEDS = _seeds()


NAMES = DISSECTOR_NAMES


def _check(name: str, data: bytes) -> None:
    check_dissector(name, data)


@st.composite
def mutated_seeds(draw: st.DrawFn) -> bytes:
    """A valid payload with a few bytes overwritten and maybe cut short."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes(name: str, data: bytes) -> None:
    _check(name, data)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=mutated_seeds())
def test_mutated_valid_payloads(name: str, data: bytes) -> None:
    _check(name, data)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(
    prefix=st.sampled_from(
        [b"\x16\x03\x01", b"GET ", b"\xc3\x00\x00\x00\x01\x08", b"\x20\x00\x00\x00DHIP"]
    ),
    data=st.binary(max_size=600),
)
def test_plausible_starts(name: str, prefix: bytes, data: bytes) -> None:
    _check(name, prefix + data)


def test_every_truncation_of_every_seed() -> None:
    for seed in SEEDS:
        step = 1 if len(seed) <= 400 else 7
        for size in range(0, len(seed) + 1, step):
            for name in NAMES:
                _check(name, seed[:size])


def test_the_seeds_are_recognised() -> None:
    """Guard for the fuzz corpus itself: mutations start from payloads that really parse."""
    assert dns.parse_dns(SEEDS[0]).complete  # type: ignore[union-attr]
    assert tls.client_hello_sni(SEEDS[3]) == "a.example"
    assert quic.quic_initial_sni(SEEDS[5]) == "example.com"
    assert port_mapping_of(SEEDS[10]) is not None
    assert natpmp.parse_natpmp_or_pcp(SEEDS[11]) is not None
    assert natpmp.parse_natpmp_or_pcp(SEEDS[12]) is not None
    ports = {37020: 13, 37810: 14, 5050: 15, 3702: 16, 34569: 17, 5353: 1, 1900: 9}
    for port, index in ports.items():
        assert discovery.dissect_discovery(port, SEEDS[index]) is not None, port
