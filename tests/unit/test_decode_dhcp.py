"""The DHCP dissector: client identity options, server messages, and malformed input."""

from __future__ import annotations

import pytest
from scapy.layers.dhcp import BOOTP, DHCP

from monitor.decode.dhcp import MAGIC_COOKIE, parse_dhcp

MAC = "3c:49:37:03:17:db"


def dhcp(op: int = 1, yiaddr: str = "0.0.0.0", ciaddr: str = "0.0.0.0", **kw: object) -> bytes:
    options = kw.pop("options", [])
    boot = BOOTP(op=op, xid=0x4BF40B0D, chaddr=bytes.fromhex(MAC.replace(":", "")))
    boot.yiaddr, boot.ciaddr = yiaddr, ciaddr
    return bytes(boot / DHCP(options=[*options, "end"]))


def test_discover_with_host_name_and_vendor_class() -> None:
    msg = parse_dhcp(
        dhcp(
            options=[
                ("message-type", "discover"),
                ("hostname", "DCS-930LB"),
                ("vendor_class_id", "udhcp 1.12.1"),
                ("requested_addr", "10.10.10.58"),
                ("param_req_list", [1, 3, 6, 12, 15, 28]),
            ]
        )
    )
    assert msg is not None
    assert (msg.op, msg.kind, msg.xid, msg.client_mac) == (1, "discover", 0x4BF40B0D, MAC)
    assert (msg.hostname, msg.vendor_class) == ("DCS-930LB", "udhcp 1.12.1")
    assert msg.requested_ip == msg.client_ip == "10.10.10.58"
    assert msg.params == (1, 3, 6, 12, 15, 28)
    assert not msg.from_server and msg.ciaddr is None and msg.server_id is None


def test_ack_from_the_server() -> None:
    msg = parse_dhcp(
        dhcp(
            op=2,
            yiaddr="10.10.10.186",
            options=[("message-type", "ack"), ("server_id", "10.10.10.1"), ("lease_time", 60)],
        )
    )
    assert msg is not None and msg.from_server
    assert (msg.kind, msg.yiaddr, msg.server_id, msg.client_ip) == (
        "ack",
        "10.10.10.186",
        "10.10.10.1",
        "10.10.10.186",
    )


def test_fqdn_option_in_wire_format_and_ascii() -> None:
    wire = bytes([0x05, 0, 0]) + b"\x04host\x07example\x03com\x00"
    msg = parse_dhcp(dhcp(options=[("message-type", "request"), (81, wire)]))
    assert msg is not None and msg.client_fqdn == "host.example.com"
    msg = parse_dhcp(dhcp(options=[("message-type", "request"), (81, b"\x01\x00\x00pc-7")]))
    assert msg is not None and msg.client_fqdn == "pc-7"


def test_plain_bootp_and_odd_values() -> None:
    raw = bytearray(dhcp(options=[]))
    msg = parse_dhcp(bytes(raw))
    assert msg is not None and msg.kind == "bootp" and msg.hostname is None
    weird = parse_dhcp(dhcp(options=[("message-type", 42), ("hostname", "a\x00b\x1bc")]))
    assert weird is not None and (weird.kind, weird.hostname) == ("type-42", "abc")


def test_options_cut_short_and_padded() -> None:
    body = bytearray(dhcp(options=[("message-type", "discover")]))
    start = 240
    body[start:] = b"\x00\x00\x35\x01\x01\x0c\x20ab"  # pad, type, host name claiming 32 bytes
    msg = parse_dhcp(bytes(body))
    assert msg is not None and (msg.kind, msg.hostname) == ("discover", "ab")


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x01" * 239,
        bytes(240),  # op 0
        b"\x01" + bytes(235) + b"\x63\x82\x53\x64",  # wrong cookie
        b"\x03" + bytes(235) + MAGIC_COOKIE,  # op 3
    ],
)
def test_not_dhcp(payload: bytes) -> None:
    assert parse_dhcp(payload) is None


def test_non_ethernet_hardware_has_no_mac() -> None:
    raw = bytearray(dhcp(options=[("message-type", "inform")]))
    raw[1] = 6  # IEEE 802 token ring
    msg = parse_dhcp(bytes(raw))
    assert msg is not None and msg.client_mac is None and msg.kind == "inform"
