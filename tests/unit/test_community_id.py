"""Community ID v1: the spec's published vectors, the `communityid` package (the reference
implementation) as oracle on any tuple, and the vectorised twin held to the scalar one."""

from __future__ import annotations

import ipaddress

import communityid
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.flow.community_id import (
    FLOW_ID_BITS,
    community_hash,
    community_hashes_v4,
    community_id,
    flow_id,
    flow_ids,
    render,
    render_many,
)

V6_A = "fe80:1:203:405:607:809:a0b:c0d"
V6_B = "fe80:1011:1213:1415:1617:1819:1a1b:1c1d"
# (proto, src, sport, dst, dport, seed) -> the value the spec's baselines publish
VECTORS = [
    ((6, "1.2.3.4", 1122, "5.6.7.8", 3344, 0), "1:wCb3OG7yAFWelaUydu0D+125CLM="),
    ((17, "1.2.3.4", 1122, "5.6.7.8", 3344, 0), "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="),
    ((1, "1.2.3.4", 8, "5.6.7.8", 0, 0), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
    ((1, "5.6.7.8", 0, "1.2.3.4", 0, 0), "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),  # the echo reply
    ((58, V6_A, 128, V6_B, 0, 0), "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="),
    ((46, "1.2.3.4", 0, "5.6.7.8", 0, 0), "1:ikv3kmf89luf73WPz1jOs49S768="),  # RSVP: no ports
    ((6, "1.2.3.4", 1122, "5.6.7.8", 3344, 1), "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
    ((17, "1.2.3.4", 1122, "5.6.7.8", 3344, 1), "1:OShq+iKDAMVouh/4bMxB9Sz4amw="),
    ((1, "1.2.3.4", 8, "5.6.7.8", 0, 1), "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="),
    ((58, V6_A, 128, V6_B, 129, 1), "1:IO27GQzPuCtNnwFvjWALMHu5tJE="),
]


@pytest.mark.parametrize(("args", "want"), VECTORS)
def test_the_specs_published_vectors(args: tuple, want: str) -> None:
    proto, src, sport, dst, dport, seed = args
    assert community_id(proto, src, sport, dst, dport, seed) == want
    if proto in (6, 17):  # the other direction of the flow: the same ID
        assert community_id(proto, dst, dport, src, sport, seed) == want


def oracle(proto: int, src: str, sport: int, dst: str, dport: int) -> str:
    if proto in communityid.PORT_PROTOS:
        tpl = communityid.FlowTuple(proto, src, dst, sport, dport)
    else:
        tpl = communityid.FlowTuple(proto, src, dst)
    return communityid.CommunityID().calc(tpl)


ports = st.integers(0, 65535)
v4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
v6 = st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n)))
icmp_types = st.one_of(st.sampled_from([0, 8, 9, 10, 13, 14, 3, 11, 5]), st.integers(0, 255))
icmp6_types = st.one_of(st.sampled_from([128, 129, 133, 134, 135, 136, 1, 2]), st.integers(0, 255))


@st.composite
def tuples(draw: st.DrawFn) -> tuple[int, str, int, str, int]:
    family = draw(st.sampled_from([v4, v6]))
    src = draw(family)
    dst = draw(st.one_of(family, st.just(src)))  # equal addresses: ports decide the order
    proto = draw(st.sampled_from([6, 17, 132, 1, 58, 47, 0, 89]))
    if proto == 1:
        return proto, src, draw(icmp_types), dst, draw(st.integers(0, 255))
    if proto == 58:
        return proto, src, draw(icmp6_types), dst, draw(st.integers(0, 255))
    sport = draw(ports)
    return proto, src, sport, dst, draw(st.one_of(ports, st.just(sport)))


@settings(max_examples=500, deadline=None)
@given(tuples())
def test_equals_the_reference_implementation(t: tuple[int, str, int, str, int]) -> None:
    assert community_id(*t) == oracle(*t)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([6, 17, 132]),
            st.integers(0, 2**32 - 1),
            ports,
            st.integers(0, 2**32 - 1),
            ports,
        ),
        min_size=1,
        max_size=50,
    )
)
def test_vectorised_twin_equals_the_scalar_one(rows: list[tuple[int, int, int, int, int]]) -> None:
    rows = [*rows, (6, 7, 80, 7, 80), (17, 7, 90, 7, 80)]  # equal addresses: ports decide
    proto, src, sport, dst, dport = (np.asarray(c) for c in zip(*rows, strict=True))
    digests = community_hashes_v4(
        proto.astype(np.int64), src.astype(np.uint64), sport.astype(np.int64),
        dst.astype(np.uint64), dport.astype(np.int64),
    )  # fmt: skip
    scalar = [
        community_hash(p, str(ipaddress.IPv4Address(a)), b, str(ipaddress.IPv4Address(c)), d)
        for p, a, b, c, d in rows
    ]
    assert [bytes(d) for d in digests] == scalar
    assert render_many(digests) == [render(d) for d in scalar]
    first = np.linspace(1.7e9, 1.8e9, len(scalar))
    assert flow_ids(digests, first).tolist() == [
        flow_id(d, t) for d, t in zip(scalar, first.tolist(), strict=True)
    ]


def test_flow_id_is_stable_per_flow_and_tells_two_flows_of_one_tuple_apart() -> None:
    digest = community_hash(6, "10.20.1.11", 50000, "198.51.100.7", 443)
    a = flow_id(digest, 1772438400.25)
    assert a == flow_id(digest, 1772438400.25)
    assert a != flow_id(digest, 1772438460.25)  # the same 5-tuple a minute later
    assert 0 <= a < 2**FLOW_ID_BITS
    # either direction of the flow names it alike
    assert a == flow_id(community_hash(6, "198.51.100.7", 443, "10.20.1.11", 50000), 1772438400.25)


def test_empty_batches() -> None:
    none = np.zeros(0, dtype=np.int64)
    digests = community_hashes_v4(none, none.astype(np.uint64), none, none.astype(np.uint64), none)
    assert digests.shape == (0, 20)
    assert render_many(digests) == []
    assert flow_ids(digests, np.zeros(0)).tolist() == []
