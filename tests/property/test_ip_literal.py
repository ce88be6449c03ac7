"""The quick address checks decide exactly as ``ipaddress`` does."""

from __future__ import annotations

import ipaddress

from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.classify.inspector import _is_ip_literal
from monitor.decode.addresses import is_dotted_quad

octet = st.sampled_from(["0", "00", "1", "9", "01", "255", "256", "300", "0000", "+1", " 1", "٣"])
dotted = st.lists(octet, min_size=3, max_size=5).map(".".join)
names = st.one_of(dotted, st.text(alphabet="0123456789abcdef.:[]% ", max_size=24), st.text())


def reference(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


@settings(max_examples=2000, deadline=None)
@given(st.one_of(names, st.tuples(st.sampled_from(["[", ""]), dotted).map("".join)))
@example("10.20.0.1")
@example("[1.2.3.4]")
@example("١.٢.٣.٤")
@example("fe80::1%eth0")
@example("camera.example.com")
def test_quick_ip_literal_agrees_with_ipaddress(name: str) -> None:
    assert _is_ip_literal(name) == reference(name)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(dotted, names))
@example("1.2.3.04")
@example("0.0.0.0")
def test_dotted_quad_is_what_ipv4address_accepts(text: str) -> None:
    try:
        accepted = str(ipaddress.IPv4Address(text)) == text
    except ValueError:
        accepted = False
    assert is_dotted_quad(text) == accepted
