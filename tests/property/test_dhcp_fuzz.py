"""The DHCP dissector is total: any bytes give a DhcpMessage or None, never an exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.dhcp import BOOTP, DHCP

from monitor.decode.dhcp import MAGIC_COOKIE, DhcpMessage, parse_dhcp

SEED = bytes(
    BOOTP(op=1, chaddr=bytes.fromhex("b0c5541c7185"))
    / DHCP(
        options=[
            ("message-type", "request"),
            ("hostname", "DCS-930LB"),
            ("vendor_class_id", "udhcp 1.12.1"),
            ("requested_addr", "10.10.10.58"),
            "end",
        ]
    )
)
FAST = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)


def _check(payload: bytes) -> None:
    msg = parse_dhcp(payload)
    assert msg is None or isinstance(msg, DhcpMessage)
    if msg is not None:
        for text in (msg.hostname, msg.vendor_class, msg.client_fqdn):
            assert text is None or (text.isprintable() and len(text) <= 255)


@FAST
@given(st.binary(max_size=600))
def test_any_bytes(payload: bytes) -> None:
    _check(payload)


@FAST
@given(st.binary(max_size=400))
def test_any_options_after_a_valid_header(options: bytes) -> None:
    _check(SEED[:236] + MAGIC_COOKIE + options)


@FAST
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255)), max_size=12))
def test_mutated_message(edits: list[tuple[int, int]]) -> None:
    raw = bytearray(SEED)
    for pos, value in edits:
        raw[pos] = value
    _check(bytes(raw))


@FAST
@given(st.integers(0, len(SEED)))
def test_truncated_message(cut: int) -> None:
    _check(SEED[:cut])
