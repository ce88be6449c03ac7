"""DNS answers the inspector learns from: damaged address records teach nothing."""

from __future__ import annotations

import struct

from monitor.classify.catalog import load_catalog
from monitor.classify.inspector import Inspector
from monitor.classify.names import NameCache
from monitor.flow.state import FlowState
from monitor.model import IPPROTO_UDP

CAM, RESOLVER = "10.20.1.11", "10.20.0.53"
CLOUD, CLOUD_NAME = "198.51.100.23", "litedev.hik-connect.com"
TYPE_A, TYPE_SOA = 1, 6


def _name(text: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in text.split(".")) + b"\x00"


def _rr(name: str, rtype: int, rdata: bytes) -> bytes:
    return _name(name) + struct.pack("!HHIH", rtype, 1, 300, len(rdata)) + rdata


def _response(qname: str, answers: list[bytes], authorities: tuple[bytes, ...] = ()) -> bytes:
    head = struct.pack("!HHHHHH", 7, 0x8180, 1, len(answers), len(authorities), 0)
    question = _name(qname) + struct.pack("!HH", TYPE_A, 1)
    return head + question + b"".join(answers) + b"".join(authorities)


def _dns_flow() -> FlowState:
    return FlowState(0, "F1", IPPROTO_UDP, CAM, 5354, RESOLVER, 53, True, 0.0, 0.0)


def _inspect(inspector: Inspector, payload: bytes, ts: float) -> None:
    inspector.inspect(_dns_flow(), payload, ts, from_orig=False, sport=53, dport=5354)


def test_a_damaged_address_record_does_not_push_a_learned_name_out_of_a_full_cache() -> None:
    names = NameCache(max_entries=1)  # a full cache: the next name learned evicts the oldest
    names.learn(CLOUD, CLOUD_NAME, CLOUD_NAME, 300, 0.0)
    inspector = Inspector(load_catalog(), names)
    damaged = _rr("cdn.example.com", TYPE_A, b"\x01\x02\x03\x04\x05")  # 5-byte A record
    _inspect(inspector, _response("cdn.example.com", [damaged]), 1.0)
    learned = names.lookup(CLOUD, 1.0)
    assert learned is not None and learned.name == CLOUD_NAME  # the flow to it keeps its name
    assert len(names) == 1


def test_the_name_log_gives_a_record_without_a_value_an_empty_detail() -> None:
    inspector = Inspector(load_catalog(), NameCache(), keep_name_log=True)
    soa = _rr("example.com", TYPE_SOA, b"\x00" * 22)  # a type the decoder gives no value
    good = _rr("cdn.example.com", TYPE_A, bytes([192, 0, 2, 7]))
    _inspect(inspector, _response("cdn.example.com", [good], (soa,)), 1.0)
    assert ("dns_answer", "example.com", "") in inspector.name_log
    assert ("dns_answer", "cdn.example.com", "192.0.2.7") in inspector.name_log
    assert all(isinstance(detail, str) for _, _, detail in inspector.name_log)
