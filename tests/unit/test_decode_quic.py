"""QUIC Initial dissector: RFC 9001/9369 vectors, CRYPTO reassembly, coalescing, damage."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from monitor.decode.quic import (
    QUIC_V1,
    QUIC_V2,
    initial_secrets,
    parse_quic_initial,
    quic_initial_sni,
    quic_initials_sni,
    reassemble_crypto,
)

RFC_DCID = bytes.fromhex("8394c8f03e515708")
# RFC 9001 Appendix A.2 (and RFC 9369 A.2): the client's CRYPTO frame, then PADDING.
RFC_CRYPTO_FRAME = bytes.fromhex(
    "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
    "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
    "616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
    "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
    "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
    "0d0010000e0403050306030203080408050806002d00020101001c0002400100"
    "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
    "75300901100f088394c8f03e51570806048000ffff"
)
RFC_HELLO = RFC_CRYPTO_FRAME[4:]  # frame type, offset 0, 2-byte length, then the hello


def protect(version: int, header: bytes, pn_offset: int, payload: bytes) -> bytes:
    """Encrypt and header-protect a client Initial the way RFC 9001 §5 describes."""
    secrets = initial_secrets(version, header[6 : 6 + header[5]])
    assert secrets is not None
    _, key, iv, hp = secrets
    pn_len = (header[0] & 0x03) + 1
    pn = int.from_bytes(header[pn_offset : pn_offset + pn_len], "big")
    nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
    packet = bytearray(header + AESGCM(key).encrypt(nonce, payload, header))
    encryptor = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = encryptor.update(bytes(packet[pn_offset + 4 : pn_offset + 20])) + encryptor.finalize()
    packet[0] ^= mask[0] & 0x0F
    for i in range(pn_len):
        packet[pn_offset + i] ^= mask[1 + i]
    return bytes(packet)


def varint(value: int) -> bytes:
    if value < 0x40:
        return bytes([value])
    if value < 0x4000:
        return (0x4000 | value).to_bytes(2, "big")
    return (0x80000000 | value).to_bytes(4, "big")


def crypto(offset: int, data: bytes) -> bytes:
    return b"\x06" + varint(offset) + varint(len(data)) + data


def initial(
    frames: bytes,
    version: int = QUIC_V1,
    dcid: bytes = RFC_DCID,
    pn: int = 0,
    size: int = 1200,
    packet_type: int | None = None,
) -> bytes:
    """A protected client Initial padded so the datagram is ``size`` bytes."""
    ptype = (1 if version == QUIC_V2 else 0) if packet_type is None else packet_type
    start = bytes([0xC0 | (ptype << 4) | 0x01]) + version.to_bytes(4, "big")
    start += bytes([len(dcid)]) + dcid + b"\x05scid5" + b"\x00"  # empty token
    fixed = len(start) + 2 + 2 + 16  # length field, 2-byte packet number, AEAD tag
    payload = frames + bytes(max(0, size - fixed - len(frames)))
    header = start + (0x4000 | (2 + len(payload) + 16)).to_bytes(2, "big") + pn.to_bytes(2, "big")
    return protect(version, header, len(start) + 2, payload)


def test_rfc9001_a1_initial_secrets() -> None:
    secrets = initial_secrets(QUIC_V1, RFC_DCID)
    assert secrets is not None
    assert [s.hex() for s in secrets] == [
        "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
        "1f369613dd76d5467730efcbe3b1a22d",
        "fa044b2f42a3fd3b46fb255c",
        "9f50449e04a0e810283a1e9933adedd2",
    ]


def test_rfc9369_a1_initial_secrets() -> None:
    secrets = initial_secrets(QUIC_V2, RFC_DCID)
    assert secrets is not None
    assert [s.hex() for s in secrets] == [
        "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
        "8b1a0bc121284290a29e0971b5cd045d",
        "91f73e2351d8fa91660e909f",
        "45b95e15235d6f45a6b19cbcb0294ba9",
    ]
    assert initial_secrets(0x12345678, RFC_DCID) is None  # an unknown version: no keys
    # a reserved version (sent to force version negotiation) is read with draft 29's salt,
    # as Wireshark 4.0 reads it (the real captures of nDPI's tests are protected so)
    assert initial_secrets(0x0A0A0A0A, RFC_DCID) == initial_secrets(0xFF00001D, RFC_DCID)
    assert initial_secrets(QUIC_V1, RFC_DCID, server=True) != initial_secrets(QUIC_V1, RFC_DCID)


@pytest.mark.parametrize(
    ("version", "unprotected", "protected", "sample", "suffix"),
    [
        pytest.param(
            QUIC_V1,
            "c300000001088394c8f03e5157080000449e00000002",
            "c000000001088394c8f03e5157080000449e7b9aec34",
            "d1b1c98dd7689fb8ec11d242b123dc9b",
            "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
            "e221af44860018ab0856972e194cd934",
            id="rfc9001-a2",
        ),
        pytest.param(
            QUIC_V2,
            "d36b3343cf088394c8f03e5157080000449e00000002",
            "d76b3343cf088394c8f03e5157080000449ea0c95e82",
            "ffe67b6abcdb4298b485dd04de806071",
            "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
            "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
            "a18b2faa745b6fe189cf772a9f84cbfc",
            id="rfc9369-a2",
        ),
    ],
)
def test_rfc_client_initial_vector(
    version: int, unprotected: str, protected: str, sample: str, suffix: str
) -> None:
    payload = RFC_CRYPTO_FRAME + bytes(1162 - len(RFC_CRYPTO_FRAME))
    packet = protect(version, bytes.fromhex(unprotected), 18, payload)
    # Header, first ciphertext block and the tail with the AEAD tag pin the whole packet.
    assert len(packet) == 1200
    assert packet[:22].hex() == protected
    assert packet[22:38].hex() == sample
    assert packet.endswith(bytes.fromhex(suffix))

    parsed = parse_quic_initial(packet)
    assert parsed is not None
    assert (parsed.version, parsed.dcid, parsed.scid, parsed.packet_number) == (
        version,
        RFC_DCID,
        b"",
        2,
    )
    assert parsed.authenticated
    assert parsed.crypto == ((0, RFC_HELLO),)
    hello = parsed.client_hello()
    assert hello is not None and hello.sni == "example.com" and hello.alpn == ("alpn",)
    assert quic_initial_sni(packet) == "example.com"


def test_crypto_frames_out_of_order_with_ack_ping_and_padding() -> None:
    ack = b"\x02\x00\x00\x01\x00\x00\x00"  # largest 0, delay 0, 1 range, first 0, gap 0, 0
    ack_ecn = b"\x03\x00\x00\x00\x00\x01\x02\x03"
    frames = (
        ack
        + crypto(120, RFC_HELLO[120:])
        + b"\x01"
        + crypto(0, RFC_HELLO[:60])
        + bytes(5)
        + ack_ecn
        + crypto(60, RFC_HELLO[60:120])
    )
    parsed = parse_quic_initial(initial(frames))
    assert parsed is not None
    assert [offset for offset, _ in parsed.crypto] == [120, 0, 60]
    assert reassemble_crypto(parsed.crypto) == RFC_HELLO
    assert quic_initial_sni(initial(frames)) == "example.com"


def test_overlapping_fragments() -> None:
    frames = crypto(0, RFC_HELLO[:100]) + crypto(50, RFC_HELLO[50:])
    assert quic_initial_sni(initial(frames)) == "example.com"
    assert reassemble_crypto([(5, b"later"), (0, b"ab")]) == b"ab"


def test_hello_split_over_two_datagrams() -> None:
    first = initial(crypto(0, RFC_HELLO[:40]), pn=0)
    second = initial(crypto(40, RFC_HELLO[40:]), pn=1)
    assert quic_initial_sni(first) is None
    assert quic_initials_sni([second, first]) == "example.com"
    other = initial(crypto(40, b"x" * 10), dcid=bytes(8), pn=1)
    assert quic_initials_sni([first, other]) is None


def test_coalesced_packets_walk_to_the_initial() -> None:
    packet = initial(crypto(0, RFC_HELLO), size=1100)
    handshake = b"\xe1\x00\x00\x00\x01\x08" + RFC_DCID + b"\x00" + b"\x40\x20" + bytes(32)
    assert quic_initial_sni(packet + handshake) == "example.com"
    assert quic_initial_sni(handshake + packet) == "example.com"


def test_draft_29_versions() -> None:
    packet = initial(crypto(0, RFC_HELLO), version=0xFF00001D)
    assert quic_initial_sni(packet) == "example.com"


def test_tampered_packets_do_not_decrypt() -> None:
    packet = bytearray(initial(crypto(0, RFC_HELLO)))
    packet[-1] ^= 1
    assert parse_quic_initial(bytes(packet)) is None
    other_dcid = bytearray(initial(crypto(0, RFC_HELLO)))
    other_dcid[7] ^= 0xFF
    assert parse_quic_initial(bytes(other_dcid)) is None


def test_cut_datagram_is_read_without_authentication() -> None:
    packet = initial(crypto(0, RFC_HELLO))
    parsed = parse_quic_initial(packet[:400])
    assert parsed is not None and not parsed.authenticated
    assert quic_initial_sni(packet[:400]) == "example.com"
    assert parse_quic_initial(packet[:30]) is None  # no header-protection sample


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\x40" + bytes(40),  # short header
        b"\xc0\x00\x00\x00\x00\x08" + bytes(40),  # version negotiation
        b"\xc0\x0a\x0a\x0a\x0a\x08" + bytes(40),  # unknown (greased) version
        b"\xf0\x00\x00\x00\x01\x08" + bytes(60),  # v1 Retry
        b"\xc0\x00\x00\x00\x01\x30" + bytes(60),  # DCID longer than 20
        b"\xc0\x00\x00\x00\x01\x08" + bytes(8) + b"\x00\x00\x41",  # cut in the length
    ],
)
def test_not_a_decryptable_initial(datagram: bytes) -> None:
    assert parse_quic_initial(datagram) is None
    assert quic_initial_sni(datagram) is None
