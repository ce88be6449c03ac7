"""NAT-PMP (RFC 6886) and PCP (RFC 6887) mapping requests on UDP 5351."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

NATPMP_PORT = 5351

_NATPMP_MAP_UDP = 1
_NATPMP_MAP_TCP = 2
_PCP_VERSION = 2
_PCP_MAP = 1
_PCP_PEER = 2
_PCP_HEADER = 24
_PCP_MAP_LEN = 36
_PCP_PEER_LEN = 56
_IP_PROTOCOLS = {0: "all", 6: "tcp", 17: "udp", 132: "sctp", 33: "dccp"}


@dataclass(frozen=True, slots=True)
class MappingRequest:
    """A request asking the gateway to open a port.

    ``protocol`` is "nat-pmp" or "pcp"; ``opcode`` is "map" or "peer"; ``transport`` is
    "tcp", "udp", "all" or "ip-N". ``lifetime`` 0 asks to delete a mapping. Addresses are
    None when the request leaves them unspecified (all zeros).
    """

    protocol: str
    opcode: str
    transport: str
    internal_port: int
    external_port: int
    lifetime: int
    client_ip: str | None = None
    external_ip: str | None = None
    remote_ip: str | None = None
    remote_port: int | None = None


def _u16(buf: bytes, pos: int) -> int:
    return (buf[pos] << 8) | buf[pos + 1]


def _u32(buf: bytes, pos: int) -> int:
    return int.from_bytes(buf[pos : pos + 4], "big")


def _address(raw: bytes) -> str | None:
    """PCP carries every address as 16 bytes; IPv4 is IPv4-mapped. Zeros mean unspecified."""
    addr = ipaddress.IPv6Address(raw)
    mapped = addr.ipv4_mapped
    if mapped is not None:
        return None if mapped.packed == b"\x00\x00\x00\x00" else str(mapped)
    return None if addr.packed == bytes(16) else addr.compressed


def _natpmp(payload: bytes) -> MappingRequest | None:
    opcode = payload[1]
    if opcode not in (_NATPMP_MAP_UDP, _NATPMP_MAP_TCP) or len(payload) < 12:
        return None  # opcode 0 asks for the external address; >= 128 are responses
    return MappingRequest(
        protocol="nat-pmp",
        opcode="map",
        transport="udp" if opcode == _NATPMP_MAP_UDP else "tcp",
        internal_port=_u16(payload, 4),
        external_port=_u16(payload, 6),
        lifetime=_u32(payload, 8),
    )


def _pcp(payload: bytes) -> MappingRequest | None:
    if payload[1] & 0x80:  # R bit: a response
        return None
    opcode = payload[1] & 0x7F
    need = {_PCP_MAP: _PCP_MAP_LEN, _PCP_PEER: _PCP_PEER_LEN}.get(opcode)
    if need is None or len(payload) < _PCP_HEADER + need:
        return None  # ANNOUNCE, unknown opcodes, or cut
    body = _PCP_HEADER + 12  # after the mapping nonce
    proto = payload[body]
    peer = opcode == _PCP_PEER
    return MappingRequest(
        protocol="pcp",
        opcode="peer" if peer else "map",
        transport=_IP_PROTOCOLS.get(proto, f"ip-{proto}"),
        internal_port=_u16(payload, body + 4),
        external_port=_u16(payload, body + 6),
        lifetime=_u32(payload, 4),
        client_ip=_address(payload[8:24]),
        external_ip=_address(payload[body + 8 : body + 24]),
        remote_ip=_address(payload[body + 28 : body + 44]) if peer else None,
        remote_port=_u16(payload, body + 24) if peer else None,
    )


def parse_natpmp_or_pcp(payload: bytes) -> MappingRequest | None:
    """A NAT-PMP or PCP mapping request from a UDP 5351 payload; None for anything else."""
    if len(payload) < 2:
        return None
    if payload[0] == 0:
        return _natpmp(payload)
    if payload[0] == _PCP_VERSION:
        return _pcp(payload)
    return None
