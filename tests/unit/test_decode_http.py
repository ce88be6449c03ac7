"""HTTP/RTSP head dissector: request and status lines, headers, hosts, cut heads."""

from __future__ import annotations

import pytest

from monitor.decode import http
from monitor.decode.http import host_without_port, parse_http_request, parse_http_response


def test_get_request_with_host_port_and_body() -> None:
    req = parse_http_request(
        b"GET /ISAPI/System/deviceInfo HTTP/1.1\r\nHost: Dev.Hik-Connect.com:8080\r\n"
        b"User-Agent: App-webs/1.0\r\nAccept: */*\r\nAccept: text/xml\r\n\r\nextra"
    )
    assert req is not None
    assert (req.protocol, req.method, req.target, req.version) == (
        "http",
        "GET",
        "/ISAPI/System/deviceInfo",
        "HTTP/1.1",
    )
    assert req.host == "dev.hik-connect.com"
    assert req.user_agent == "App-webs/1.0"
    assert req.headers["accept"] == "*/*, text/xml"
    assert req.body == b"extra"
    assert req.soap_action is None and req.content_type is None


def test_soap_post_with_quoted_soapaction() -> None:
    req = parse_http_request(
        b"POST /ctl/IPConn HTTP/1.1\r\nHOST: 192.168.1.1:5000\r\n"
        b'CONTENT-TYPE: text/xml; charset="utf-8"\r\n'
        b'SOAPACTION: "urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"\r\n'
        b"Content-Length: 10\r\n\r\n<s:Envelo"
    )
    assert req is not None
    assert req.host == "192.168.1.1"
    assert req.soap_action == "urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping"
    assert req.content_type == 'text/xml; charset="utf-8"'
    assert req.body == b"<s:Envelo"


def test_head_cut_mid_line_drops_the_partial_line() -> None:
    req = parse_http_request(b"GET / HTTP/1.1\r\nUser-Agent: curl\r\nHost: exa")
    assert req is not None
    assert req.host is None and req.user_agent == "curl" and "host" not in req.headers
    assert req.body == b""


def test_bare_newlines_and_folded_headers() -> None:
    req = parse_http_request(b"GET / HTTP/1.0\nHost: a.example\nX-Long: one\n  two\n\nbody")
    assert req is not None
    assert req.host == "a.example" and req.headers["x-long"] == "one two" and req.body == b"body"


def test_absolute_form_target_gives_the_host() -> None:
    req = parse_http_request(b"GET http://User@Proxy.Example:3128/x?y HTTP/1.1\r\n\r\n")
    assert req is not None and req.host == "proxy.example"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("example.com", "example.com"),
        ("Example.COM.:443", "example.com"),
        ("[2001:db8::1]:8080", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("10.0.0.1:", "10.0.0.1"),
        ("bad host", None),
        ("ctl\x01.example", None),
        ("a" * 300, None),
        ("", None),
        ("[", None),
    ],
)
def test_host_without_port(value: str, expected: str | None) -> None:
    assert host_without_port(value) == expected


@pytest.mark.parametrize(
    "method", ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER", "ANNOUNCE"]
)
def test_rtsp_requests(method: str) -> None:
    req = parse_http_request(
        f"{method} rtsp://10.20.0.11:554/Streaming/Channels/101 RTSP/1.0\r\n"
        "CSeq: 2\r\nUser-Agent: LibVLC/3.0.16 (LIVE555 Streaming Media)\r\n\r\n".encode()
    )
    assert req is not None
    assert req.protocol == "rtsp" and req.method == method and req.host == "10.20.0.11"
    assert req.user_agent is not None and req.user_agent.startswith("LibVLC")


def test_rtsp_method_with_http_version_is_refused() -> None:
    assert parse_http_request(b"DESCRIBE /x HTTP/1.1\r\n\r\n") is None
    assert parse_http_request(b"OPTIONS * HTTP/1.1\r\n\r\n") is not None


@pytest.mark.parametrize(
    "payload",
    [
        b"HELLO / HTTP/1.1\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\n\r\n",
        b"GET / SIP/2.0\r\n\r\n",
        b"get / HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01",
        b"",
    ],
)
def test_not_a_request(payload: bytes) -> None:
    assert parse_http_request(payload) is None


def test_http_response_with_server_and_auth() -> None:
    resp = parse_http_response(
        b"HTTP/1.1 401 Unauthorized\r\nServer: App-webs/\r\n"
        b'WWW-Authenticate: Digest realm="hikvision", nonce="abc"\r\n'
        b"Content-Type: text/html\r\n\r\n<html>"
    )
    assert resp is not None
    assert (resp.protocol, resp.status, resp.reason) == ("http", 401, "Unauthorized")
    assert resp.server == "App-webs/"
    assert resp.www_authenticate == 'Digest realm="hikvision", nonce="abc"'
    assert resp.content_type == "text/html" and resp.body == b"<html>"


def test_rtsp_response_without_reason() -> None:
    resp = parse_http_response(b"RTSP/1.0 200\r\nCSeq: 2\r\nServer: Dahua Rtsp Server\r\n\r\n")
    assert resp is not None
    assert (resp.protocol, resp.status, resp.reason, resp.server) == (
        "rtsp",
        200,
        "",
        "Dahua Rtsp Server",
    )


@pytest.mark.parametrize(
    "payload",
    [b"HTTP/1.1 2000 OK\r\n", "HTTP/1.1 ²00 OK\r\n".encode("latin-1"), b"HTTP/1.1\r\n", b"HTTPS"],
)
def test_not_a_response(payload: bytes) -> None:
    assert parse_http_response(payload) is None


def test_repeated_heads_are_parsed_once_and_read_alike() -> None:
    """RTSP keep-alives and SSDP announcements repeat their bytes: the second parse is the
    first one's result; a long or non-bytes payload is parsed each time, to the same."""
    head = b"OPTIONS rtsp://10.20.1.11/ch1 RTSP/1.0\r\nCSeq: 7\r\nUser-Agent: NVR\r\n\r\n"
    first, again = parse_http_request(head), parse_http_request(bytes(bytearray(head)))
    assert first is not None and again is first
    long = head + b"x" * http.MEMO_MAX_BYTES
    big = parse_http_request(long)
    assert big is not None and big is not parse_http_request(long)
    assert (big.method, big.target, big.user_agent, big.headers) == (
        first.method,
        first.target,
        first.user_agent,
        first.headers,
    )
    assert parse_http_request(bytearray(head)) == first  # unhashable: parsed, not memoised
    reply = b"RTSP/1.0 200 OK\r\nCSeq: 7\r\nServer: Hikvision-Webs\r\n\r\n"
    assert parse_http_response(reply) is parse_http_response(bytes(bytearray(reply)))
    assert parse_http_response(bytearray(reply)) == parse_http_response(reply)
