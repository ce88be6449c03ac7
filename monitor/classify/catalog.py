"""The shipped vendor endpoint catalog (monitor/data/catalog.yaml) with fast lookups."""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.model import MonitorError

SCHEMA = "cctv-monitor/catalog/v1"
_CACHE_MAX = 1 << 14
_MISS = object()
_MAC_SEPARATORS = str.maketrans("", "", ":-. ")


@dataclass(frozen=True, slots=True)
class Signature:
    """A payload prefix (and optional server port and length bounds) naming an endpoint."""

    proto: str
    prefix: bytes
    port: int | None = None
    min_len: int = 0
    max_len: int | None = None

    def matches(self, port: int, payload: bytes) -> bool:
        """True when ``payload`` sent to/from server ``port`` fits this signature."""
        n = len(payload)
        return (
            (self.port is None or self.port == port)
            and n >= self.min_len
            and (self.max_len is None or n <= self.max_len)
            and payload.startswith(self.prefix)
        )

    def describe(self) -> str:
        """Short text form, e.g. ``udp/any fffeffe7 len 44``."""
        where = f"{self.proto}/{self.port if self.port is not None else 'any'}"
        shown = self.prefix.hex()
        if self.prefix.isascii() and self.prefix[:1].isalpha():
            shown += f" ({self.prefix.decode('ascii')!r})"
        if self.min_len == self.max_len:
            return f"{where} {shown} len {self.min_len}"
        if self.max_len is not None:
            return f"{where} {shown} len {self.min_len}..{self.max_len}"
        return f"{where} {shown}" + (f" len >= {self.min_len}" if self.min_len else "")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A catalogued vendor cloud / P2P / DDNS / telemetry endpoint; ``name`` is a label value."""

    name: str
    vendor: str
    brand: str
    purpose: str
    source: tuple[str, ...]
    confidence: str
    kind: str = "cloud"
    domains: tuple[str, ...] = field(default=(), compare=False, repr=False)
    addresses: tuple[str, ...] = field(default=(), compare=False, repr=False)
    ports: tuple[tuple[str, int], ...] = field(default=(), compare=False, repr=False)
    signatures: tuple[Signature, ...] = field(default=(), compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The endpoint as a JSON-ready mapping (without its match keys)."""
        return {
            "name": self.name, "vendor": self.vendor, "brand": self.brand, "kind": self.kind,
            "purpose": self.purpose, "confidence": self.confidence, "source": list(self.source),
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Banner:
    """A banner pattern (HTTP Server, auth realm, RTSP server, TLS subject...) naming a vendor."""

    vendor: str
    field: str
    pattern: re.Pattern[str]
    source: tuple[str, ...]
    confidence: str


def _norm_ip(ip: str) -> str | None:
    """Canonical text of an address (IPv4-mapped IPv6 as IPv4), or None if not an address."""
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        return str(a.ipv4_mapped)
    return str(a)


def _oui_key(prefix: str) -> tuple[int, int]:
    """(bits, value) of a registry prefix like ``44:19:B6`` or ``34:46:63:20:00:00/28``."""
    text, _, bits = prefix.partition("/")
    digits = text.translate(_MAC_SEPARATORS)
    nbits = int(bits) if bits else 24
    return nbits, int(digits, 16) >> (len(digits) * 4 - nbits)


def _endpoint(raw: dict[str, Any]) -> Endpoint:
    sigs = tuple(
        Signature(proto=s["proto"], prefix=bytes.fromhex(s["payload_prefix_hex"]),
                  port=s.get("port"), min_len=s.get("min_len", 0), max_len=s.get("max_len"))
        for s in raw.get("signatures", ())
    )  # fmt: skip
    return Endpoint(
        name=raw["name"], vendor=raw["vendor"], brand=raw["brand"], purpose=raw["purpose"],
        source=tuple(raw["source"]), confidence=raw["confidence"], kind=raw.get("kind", "cloud"),
        domains=tuple(d.lower() for d in raw.get("domains", ())),
        addresses=tuple(raw.get("addresses", ())),
        ports=tuple((p["proto"], int(p["port"])) for p in raw.get("ports", ())),
        signatures=sigs,
    )  # fmt: skip


class VendorCatalog:
    """Vendor endpoints, OUIs, banners, public resolvers and DoH names, indexed for lookups."""

    def __init__(self, doc: dict[str, Any], path: str | None = None) -> None:
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise MonitorError(f"{path or 'catalog'}: not a {SCHEMA} vendor catalog")
        self.doc = doc
        self.path = path
        self.schema: str = doc["schema"]
        self.version: str = str(doc["version"])
        self.vendors: tuple[str, ...] = tuple(doc["vendors"])
        self.endpoints: tuple[Endpoint, ...] = tuple(
            _endpoint(e) for v in doc["vendors"].values() for e in v.get("endpoints", ())
        )
        self._by_name = {e.name: e for e in self.endpoints}
        self._domains = {d: e for e in self.endpoints for d in e.domains}
        self._addresses = {_norm_ip(a) or a: e for e in self.endpoints for a in e.addresses}
        self._ports = {p: e for e in self.endpoints for p in e.ports}
        self._signatures = self._index_signatures()
        self._ouis = self._index_ouis(doc["vendors"])
        self.banners: tuple[Banner, ...] = tuple(
            Banner(vendor=vid, field=b["field"], pattern=re.compile(b["pattern"]),
                   source=tuple(b["source"]), confidence=b["confidence"])
            for vid, v in doc["vendors"].items() for b in v.get("banners", ())
        )  # fmt: skip
        resolvers = doc.get("public_resolvers", ())
        self._resolvers = {
            _norm_ip(a) or a: r["operator"] for r in resolvers for a in r["addresses"]
        }
        self._doh = {n.lower(): d["operator"] for d in doc.get("doh_names", ()) for n in d["names"]}
        self._name_cache: dict[str, Endpoint | None] = {}
        self._banner_cache: dict[str, str | None] = {}

    def _index_signatures(self) -> dict[tuple[str, int], tuple[tuple[Signature, Endpoint], ...]]:
        """(proto, first payload byte) -> signatures, port-bound and longer prefixes first."""
        index: dict[tuple[str, int], list[tuple[Signature, Endpoint]]] = {}
        for ep in self.endpoints:
            for sig in ep.signatures:
                index.setdefault((sig.proto, sig.prefix[0]), []).append((sig, ep))

        def order(item: tuple[Signature, Endpoint]) -> tuple[bool, int]:
            return item[0].port is None, -len(item[0].prefix)

        return {k: tuple(sorted(v, key=order)) for k, v in index.items()}

    @staticmethod
    def _index_ouis(vendors: dict[str, Any]) -> dict[int, dict[int, str]]:
        """Prefix length (36, 28, 24) -> prefix value -> vendor id."""
        index: dict[int, dict[int, str]] = {36: {}, 28: {}, 24: {}}
        for vid, v in vendors.items():
            for block in v.get("ouis", ()):
                prefixes = block["prefixes"]
                for prefix in prefixes.split() if isinstance(prefixes, str) else prefixes:
                    bits, value = _oui_key(prefix)
                    index[bits][value] = vid
        return index

    # -- lookups -------------------------------------------------------------------------------
    def endpoint(self, name: str) -> Endpoint | None:
        """The endpoint with this catalog name."""
        return self._by_name.get(name)

    def match_name(self, name: str) -> Endpoint | None:
        """Endpoint whose domain is ``name`` or a parent of it (label boundaries, longest wins)."""
        hit = self._name_cache.get(name, _MISS)
        if hit is _MISS:
            if len(self._name_cache) >= _CACHE_MAX:
                self._name_cache.clear()
            hit = self._name_cache[name] = _suffix_lookup(self._domains, name)
        return hit  # type: ignore[return-value]

    def match_address(self, ip: str) -> Endpoint | None:
        """Endpoint whose catalogued literal address is ``ip``."""
        hit = self._addresses.get(ip)
        if hit is None and (":" in ip or not ip[-1:].isdigit()):
            norm = _norm_ip(ip)
            hit = self._addresses.get(norm) if norm else None
        return hit

    def match_port(self, proto: str, port: int) -> Endpoint | None:
        """Endpoint that a server port alone attributes (``proto`` is "tcp" or "udp")."""
        return self._ports.get((proto, port))

    def match_signature(self, proto: str, port: int, payload: bytes) -> Endpoint | None:
        """Endpoint whose payload signature fits; ``port`` is the flow's server-side port."""
        if not payload:
            return None
        for sig, ep in self._signatures.get((proto, payload[0]), ()):
            if sig.matches(port, payload):
                return ep
        return None

    def vendor_for_mac(self, mac: str | bytes) -> str | None:
        """Vendor owning the longest registered prefix (36/28/24 bits) of a MAC address."""
        if isinstance(mac, bytes | bytearray):
            if len(mac) != 6:
                return None
            value = int.from_bytes(mac, "big")
        else:
            digits = mac.translate(_MAC_SEPARATORS)
            if len(digits) != 12:
                return None
            try:
                value = int(digits, 16)
            except ValueError:
                return None
        ouis = self._ouis
        return ouis[36].get(value >> 12) or ouis[28].get(value >> 20) or ouis[24].get(value >> 24)

    def vendor_for_banner(self, text: str) -> str | None:
        """Vendor whose banner pattern (Server, realm, TLS subject...) occurs in ``text``."""
        hit = self._banner_cache.get(text, _MISS)
        if hit is _MISS:
            if len(self._banner_cache) >= _CACHE_MAX:
                self._banner_cache.clear()
            found = next((b.vendor for b in self.banners if b.pattern.search(text)), None)
            hit = self._banner_cache[text] = found
        return hit  # type: ignore[return-value]

    def resolver_operator(self, ip: str) -> str | None:
        """Operator of a well-known public DNS resolver address (e.g. "google"), else None."""
        hit = self._resolvers.get(ip)
        if hit is None and (":" in ip or not ip[-1:].isdigit()):
            norm = _norm_ip(ip)
            hit = self._resolvers.get(norm) if norm else None
        return hit

    def known_v4(self) -> list[int]:
        """Every IPv4 address the catalog names (endpoints, public resolvers), as integers:
        a flow to one of them is never decided from addresses and ports alone."""
        out = []
        for addr in (*self._addresses, *self._resolvers):
            try:
                out.append(int(ipaddress.IPv4Address(addr)))
            except ValueError:
                continue
        return out

    def vendor_ports(self, proto: str) -> list[int]:
        """Server ports that alone attribute a flow to a vendor endpoint."""
        return [port for p, port in self._ports if p == proto]

    def is_public_resolver(self, ip: str) -> bool:
        """True for a well-known public DNS resolver address."""
        return self.resolver_operator(ip) is not None

    def is_doh_name(self, name: str) -> bool:
        """True when ``name`` is (under) a well-known DNS-over-HTTPS/TLS server name."""
        return _suffix_lookup(self._doh, name) is not None

    def oui_counts(self, vendor: str) -> dict[str, int]:
        """Registered prefixes of ``vendor`` per brand."""
        counts: dict[str, int] = {}
        for block in self.doc["vendors"].get(vendor, {}).get("ouis", ()):
            counts[block["brand"]] = counts.get(block["brand"], 0) + int(block["count"])
        return counts


def _suffix_lookup(table: dict[str, Any], name: str) -> Any:
    """Value of the longest key equal to ``name`` or to one of its parent domains."""
    n = name.lower().rstrip(".")
    hit = table.get(n)
    i = n.find(".")
    while hit is None and i >= 0:
        hit = table.get(n[i + 1 :])
        i = n.find(".", i + 1)
    return hit


def _parse_yaml(raw: bytes) -> Any:
    """The YAML document in ``raw`` (libyaml when PyYAML has it); yaml is imported here."""
    import yaml

    return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _shipped_doc(raw: bytes) -> Any:
    """The shipped catalog's document: its JSON twin while that matches ``raw``, else YAML."""
    from monitor.classify import catalog_json

    if len(raw) == catalog_json.SOURCE_SIZE and zlib.crc32(raw) == catalog_json.SOURCE_CRC32:
        return json.loads("".join(catalog_json.PARTS))
    return _parse_yaml(raw)


@functools.lru_cache(maxsize=1)
def _shipped() -> VendorCatalog:
    # The package's own data file, by path: importlib.resources costs ~17 ms of imports
    # (zipfile, tempfile, lzma, ...) for installs that are never zipped.
    ref = Path(__file__).resolve().parent.parent / "data" / "catalog.yaml"
    return VendorCatalog(_shipped_doc(ref.read_bytes()), path=str(ref))


def load_catalog(path: str | None = None) -> VendorCatalog:
    """The shipped catalog (cached), or the catalog file at ``path``."""
    if path is None:
        return _shipped()
    with open(path, "rb") as fh:
        return VendorCatalog(_parse_yaml(fh.read()), path=path)


def render_catalog(catalog: VendorCatalog) -> str:
    """What ``cctv-monitor catalog`` prints: endpoints, banners and OUI counts per vendor."""
    doc = catalog.doc
    n_oui = sum(sum(catalog.oui_counts(v).values()) for v in catalog.vendors)
    src = doc["generated_from"]["catalog"]
    out = [
        f"cctv-monitor vendor catalog {catalog.schema}, version {catalog.version}",
        f"built from {src['file']} (generated {src['generated']}) and "
        f"{doc['generated_from']['registry']['file']}",
        f"{len(catalog.endpoints)} endpoints, {len(catalog.vendors)} vendors, "
        f"{n_oui} OUI prefixes, {len(catalog.banners)} banners, "
        f"{len(catalog._resolvers)} public resolver addresses, {len(catalog._doh)} DoH names",
    ]  # fmt: skip
    for vid in catalog.vendors:
        out += _render_vendor(catalog, vid)
    out.append("\npublic resolvers:")
    out += [f"  {r['operator']:<14} {' '.join(r['addresses'])}" for r in doc["public_resolvers"]]
    out.append("DoH/DoT names:")
    out += [f"  {d['operator']:<14} {' '.join(d['names'])}" for d in doc["doh_names"]]
    return "\n".join(out)


def _render_vendor(catalog: VendorCatalog, vid: str) -> list[str]:
    v = catalog.doc["vendors"][vid]
    out = [f"\n== {vid}: {v['display_name']} ==", f"brands: {', '.join(v['brands'])}"]
    for ep in (e for e in catalog.endpoints if e.vendor == vid):
        out.append(f"  endpoint {ep.name}  [brand {ep.brand}, {ep.kind}, {ep.confidence}]")
        out.append(f"    {ep.purpose}")
        keys = [
            ("domains", ", ".join(ep.domains)), ("addresses", ", ".join(ep.addresses)),
            ("ports", ", ".join(f"{port}/{proto}" for proto, port in ep.ports)),
            ("signatures", "; ".join(s.describe() for s in ep.signatures)),
        ]  # fmt: skip
        out += [f"    {label}: {text}" for label, text in keys if text]
        out += [f"    source: {s}" for s in ep.source]
    for b in (b for b in catalog.banners if b.vendor == vid):
        out.append(f"  banner {b.field}: /{b.pattern.pattern}/  [{b.confidence}] {b.source[0]}")
    counts = catalog.oui_counts(vid)
    if counts:
        per = ", ".join(f"{brand} {n}" for brand, n in counts.items())
        out.append(f"  OUI prefixes: {sum(counts.values())} ({per})")
    return out


def render_catalog_json(catalog: VendorCatalog) -> dict[str, Any]:
    """The whole catalog as a JSON-ready mapping (the shipped YAML's structure)."""
    return json.loads(json.dumps(catalog.doc))  # type: ignore[no-any-return]  # a deep copy
