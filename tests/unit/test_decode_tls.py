"""TLS ClientHello dissector: SNI/ALPN, reassembly over segments and records, bad input."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.tls.all import (
    TLS,
    ProtocolName,
    ServerName,
    TLS_Ext_ALPN,
    TLS_Ext_ServerName,
    TLSClientHello,
)

from monitor.decode.tls import (
    client_hello_alpn,
    client_hello_incomplete,
    client_hello_sni,
    is_tls_record_start,
    parse_client_hello,
    parse_client_hello_message,
)
from tests.unit.tls_builders import alpn_ext, ext, sni_ext


def hello_message(extensions: bytes | None, version: int = 0x0303) -> bytes:
    body = struct.pack("!H", version) + bytes(range(32))  # legacy_version, random
    body += b"\x20" + b"\x11" * 32  # session id
    body += b"\x00\x04\x13\x01\xc0\x2f"  # cipher suites
    body += b"\x01\x00"  # compression methods
    if extensions is not None:
        body += struct.pack("!H", len(extensions)) + extensions
    return b"\x01" + len(body).to_bytes(3, "big") + body


def records(message: bytes, sizes: list[int] | None = None, version: int = 0x0301) -> bytes:
    """Wrap a handshake message in TLS records, split at the given record sizes."""
    out, pos = b"", 0
    for size in [*(sizes or []), len(message)]:
        chunk = message[pos : pos + size]
        if chunk:
            out += struct.pack("!BHH", 22, version, len(chunk)) + chunk
        pos += len(chunk)
    return out


EXTENSIONS = (
    ext(0xFF01, b"\x00")
    + sni_ext(b"Cloud.Example.COM.")
    + alpn_ext(b"h2", b"http/1.1")
    + ext(43, b"\x04\x03\x04\x03\x03")
    + ext(0x0015, bytes(40))  # padding
)
STREAM = records(hello_message(EXTENSIONS))


def test_sni_alpn_and_versions() -> None:
    hello = parse_client_hello(STREAM)
    assert hello is not None
    assert hello.sni == "cloud.example.com"
    assert hello.alpn == ("h2", "http/1.1")
    assert hello.supported_versions == (0x0304, 0x0303)
    assert hello.legacy_version == 0x0303
    assert hello.complete and not hello.has_ech
    assert client_hello_sni(STREAM) == "cloud.example.com"
    assert client_hello_alpn(STREAM) == ("h2", "http/1.1")
    assert not client_hello_incomplete(STREAM)


def test_scapy_built_hello_agrees() -> None:
    stream = bytes(
        TLS(
            msg=[
                TLSClientHello(
                    ext=[
                        TLS_Ext_ServerName(
                            servernames=[ServerName(servername=b"cam.vendor.example")]
                        ),
                        TLS_Ext_ALPN(protocols=[ProtocolName(protocol=b"h2")]),
                    ]
                )
            ]
        )
    )
    assert client_hello_sni(stream) == "cam.vendor.example"
    assert client_hello_alpn(stream) == ("h2",)


@pytest.mark.parametrize("split", [1, 3, 5, 6, 9, 43, 80, len(STREAM) - 1])
def test_split_over_two_segments(split: int) -> None:
    first = STREAM[:split]
    assert client_hello_incomplete(first)
    assert client_hello_sni(first + STREAM[split:]) == "cloud.example.com"


def test_every_prefix_is_incomplete() -> None:
    for size in range(1, len(STREAM)):
        assert client_hello_incomplete(STREAM[:size]), size
    assert not client_hello_incomplete(b"")


@pytest.mark.parametrize("sizes", [[10], [3], [1, 1, 1], [100], [150, 20]])
def test_split_over_several_records(sizes: list[int]) -> None:
    stream = records(hello_message(EXTENSIONS), sizes)
    assert client_hello_sni(stream) == "cloud.example.com"
    assert not client_hello_incomplete(stream)
    cut = stream[: len(stream) - 30]
    assert client_hello_incomplete(cut)


def test_sni_is_returned_before_the_hello_is_complete() -> None:
    cut = STREAM[: len(STREAM) - 30]  # inside the padding extension
    hello = parse_client_hello(cut)
    assert hello is not None and not hello.complete
    assert hello.sni == "cloud.example.com"
    assert client_hello_incomplete(cut)


@pytest.mark.parametrize("record_version", [0x0300, 0x0301, 0x0302, 0x0303])
def test_record_versions_ssl3_to_tls12(record_version: int) -> None:
    stream = records(hello_message(sni_ext(b"a.example")), version=record_version)
    assert client_hello_sni(stream) == "a.example"


def test_unknown_record_version_is_not_tls() -> None:
    stream = records(hello_message(sni_ext(b"a.example")), version=0x0305)
    assert client_hello_sni(stream) is None
    assert not client_hello_incomplete(stream[:20])


def test_hello_without_extensions_or_sni() -> None:
    bare = records(hello_message(None, version=0x0300))
    hello = parse_client_hello(bare)
    assert hello is not None and hello.sni is None and hello.complete
    assert not client_hello_incomplete(bare)
    no_sni = records(hello_message(alpn_ext(b"h2")))
    assert client_hello_sni(no_sni) is None and client_hello_alpn(no_sni) == ("h2",)


def test_ech_is_flagged_and_outer_sni_kept() -> None:
    stream = records(hello_message(sni_ext(b"public.example") + ext(0xFE0D, b"\x00" * 8)))
    hello = parse_client_hello(stream)
    assert hello is not None and hello.has_ech and hello.sni == "public.example"


@pytest.mark.parametrize(
    "name",
    [b"bad name.example", b"ctl\x01.example", "bücher.de".encode(), b"a" * 254, b""],
)
def test_bad_server_names_are_refused(name: bytes) -> None:
    assert client_hello_sni(records(hello_message(sni_ext(name)))) is None


def test_punycode_server_name_stays_as_is() -> None:
    stream = records(hello_message(sni_ext(b"XN--BCHER-KVA.example")))
    assert client_hello_sni(stream) == "xn--bcher-kva.example"


def test_other_handshake_and_content_types() -> None:
    server_hello = records(b"\x02" + hello_message(sni_ext(b"a.example"))[1:])
    assert client_hello_sni(server_hello) is None
    assert not client_hello_incomplete(server_hello[:12])
    app_data = b"\x17\x03\x03\x00\x05hello"
    assert is_tls_record_start(app_data)
    assert not client_hello_incomplete(app_data)
    assert client_hello_sni(app_data) is None


def test_implausible_hello_length_is_not_buffered() -> None:
    stream = b"\x16\x03\x01\x00\x04\x01\x10\x00\x00"
    assert not client_hello_incomplete(stream)


def test_record_followed_by_non_handshake_record() -> None:
    message = hello_message(EXTENSIONS)
    stream = records(message[:50]) + b"\x17\x03\x03\x00\x02ab"
    assert not client_hello_incomplete(stream)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x16\x03\x01\x02\x00", True),
        (b"\x16\x03\x01", True),
        (b"\x15\x03\x03\x00\x02", True),
        (b"\x16\x03", False),
        (b"\x16\x03\x01\x00\x00", False),
        (b"\x16\x03\x01\xff\xff", False),
        (b"\x16\x02\x01\x00\x10", False),
        (b"GET / HTTP/1.1\r\n", False),
        (b"", False),
    ],
)
def test_is_tls_record_start(data: bytes, expected: bool) -> None:
    assert is_tls_record_start(data) is expected


def test_handshake_message_parser_bounds() -> None:
    message = hello_message(EXTENSIONS)
    assert parse_client_hello_message(message[:30]) is None  # cut before the extensions
    assert parse_client_hello_message(b"") is None
    bad_session = message[:38] + b"\x21" + message[39:]
    assert parse_client_hello_message(bad_session) is None
