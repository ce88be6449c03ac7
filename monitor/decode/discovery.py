"""Vendor discovery chatter: SADP, DHIP, Dahua 5050, WS-Discovery, mDNS, XMEye, SSDP."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from monitor.decode import dns as _dns
from monitor.decode.dns import TYPE_A, TYPE_PTR, TYPE_SRV, DnsMessage, mdns_services, parse_dns
from monitor.decode.fields import MAX_FIELD, clean_field, extra_fields, ipv4_field, mac_field
from monitor.decode.upnp import is_igd_advert, is_igd_search, parse_ssdp, xml_leaves

SADP_ETHERTYPE = 0x8033
_DHIP_MAGIC = b"\x20\x00\x00\x00DHIP"
_XMEYE_SEARCH = 1530  # 1531 is the reply
# "keyword=vendor id" in priority order, matched as words in lower-case text.
_VENDOR_OF: dict[str, str] = dict(
    re.findall(
        r"(\S+)=(\S+)",
        "hikvision=hikvision ezviz=ezviz dahua=dahua amcrest=amcrest lorex=lorex uniview=uniview"
        " axis=axis hanwha=hanwha wisenet=hanwha samsung=hanwha techwin=hanwha bosch=bosch"
        " vivotek=vivotek sony=sony panasonic=panasonic i-pro=panasonic reolink=reolink"
        " tiandy=tiandy tp-link=tplink tapo=tplink ubiquiti=ubiquiti ubnt=ubiquiti"
        " xiongmai=xiongmai xmeye=xiongmai huawei=huawei",
    )
)
# Digits may follow a keyword ("Linux/4.14-axis8"), letters may not ("taxis").
_VENDOR_RE = re.compile(r"(?<![a-z0-9])(" + "|".join(map(re.escape, _VENDOR_OF)) + r")(?![a-z])")
_MDNS_VENDOR_SERVICES = {"_axis-video._tcp": "axis", "_axis-nvr._tcp": "axis"}
_AXIS_INSTANCE = re.compile(r"axis (\S.*?) - ([0-9a-f]{12})$")  # "AXIS M3045-V - ACCC8E0A1B2C"
_WSD_BODY = re.compile(
    rb"<(?:[\w.-]+:)?(ProbeMatches|ResolveMatches|Probe|Resolve|Hello|Bye)[\s>/]"
)
_WSD_KINDS = {"Probe": "probe", "Resolve": "probe", "Hello": "announce", "Bye": "announce"}
_WSD_KINDS |= {"ProbeMatches": "reply", "ResolveMatches": "reply"}
# Fields that have their own DiscoveryInfo attribute, kept out of ``extra``.
_SADP_FIELDS = ("DeviceDescription", "DeviceSN", "SoftwareVersion", "MAC", "IPv4Address")
_DHIP_FIELDS = ("DeviceType", "SerialNo", "Version", "Mac", "IPv4Address", "MachineName")
_XMEYE_FIELDS = ("HostName", "HostIP", "MAC", "SN", "Version")
# ``extra`` keys of WS-Discovery and SSDP.
_WSD_EXTRA = ("types", "xaddrs", "location", "endpoint")
_SSDP_EXTRA = ("st", "nt", "nts", "location", "server", "igd")


@dataclass(frozen=True, slots=True)
class DiscoveryInfo:
    """What one discovery datagram says about a device; ``kind`` is probe, announce or reply."""

    protocol: str
    vendor: str | None
    kind: str
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    mac: str | None = None
    ipv4: str | None = None
    name: str | None = None
    extra: tuple[tuple[str, str], ...] = ()


def vendor_from_text(*texts: str | None) -> str | None:
    """A vendor id (``hikvision``, ``dahua``, ``axis``, ``hanwha``, ...) named in any text."""
    for text in texts:
        if text:
            found = _VENDOR_RE.search(text.lower())
            if found:
                return _VENDOR_OF[found.group(1)]
    return None


def _member(obj: dict[str, object], key: str) -> dict[str, object]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _json_object(raw: bytes) -> dict[str, object] | None:
    text = raw.replace(b"\x00", b"").strip().decode("utf-8", "replace")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def parse_sadp(payload: bytes) -> DiscoveryInfo | None:
    """Hikvision SADP over UDP 37020: ``<Probe>`` (probe) or ``<ProbeMatch>`` (reply) XML."""
    head = payload[:512]
    if b"<ProbeMatch" in head:
        kind = "reply"
    elif b"<Probe>" in head:
        kind = "probe"
    else:
        return None
    leaves = xml_leaves(payload)
    return DiscoveryInfo(
        protocol="sadp",
        vendor="hikvision",
        kind=kind,
        model=clean_field(leaves.get("DeviceDescription")),
        serial=clean_field(leaves.get("DeviceSN")),
        firmware=clean_field(leaves.get("SoftwareVersion")),
        mac=mac_field(leaves.get("MAC")),
        ipv4=ipv4_field(leaves.get("IPv4Address")),
        extra=extra_fields(leaves.items(), _SADP_FIELDS),
    )


def _printable_runs(data: bytes, minimum: int = 4) -> list[str]:
    return [m.decode("ascii") for m in re.findall(rb"[\x20-\x7e]{%d,}" % minimum, data)][:16]


def _cstring(data: bytes, start: int, size: int) -> str | None:
    raw = data[start : start + size].split(b"\x00", 1)[0]
    return clean_field(raw.decode("ascii")) if raw and raw.isascii() else None


def parse_sadp_ether(payload: bytes) -> DiscoveryInfo | None:
    """Hikvision SADP over raw Ethernet (EtherType 0x8033); ``payload`` follows the EtherType.

    Layout from the public ``sadp.h`` and hiktools: a 38-byte header (op type at 10: 3
    inquiry, 4 inquiry reply; sender MAC at 14, IPv4 at 20), then for a reply serial[48],
    four u32, software[48]. Any frame of this EtherType is SADP; fields are best effort.
    """
    if len(payload) < 14:
        return DiscoveryInfo(protocol="sadp", vendor="hikvision", kind="announce")
    optype = payload[10]
    kind = {3: "probe", 4: "reply"}.get(optype, "announce")
    mac = ipv4 = None
    if len(payload) >= 24:
        mac = ":".join(f"{b:02x}" for b in payload[14:20])
        ipv4 = ".".join(str(b) for b in payload[20:24])
    serial = firmware = None
    if optype == 4 and len(payload) >= 38 + 48:
        serial = _cstring(payload, 38, 48)
        firmware = _cstring(payload, 38 + 64, 48)
    strings = _printable_runs(payload[38:])
    return DiscoveryInfo(
        protocol="sadp",
        vendor="hikvision",
        kind=kind,
        serial=serial,
        firmware=firmware,
        mac=mac,
        ipv4=ipv4 if ipv4 != "0.0.0.0" else None,
        extra=(("optype", str(optype)), *(("string", s[:MAX_FIELD]) for s in strings)),
    )


def parse_dhip(payload: bytes) -> DiscoveryInfo | None:
    """Dahua DHIP on UDP 37810: 32-byte header (``DHIP`` at offset 4), then JSON."""
    if not payload.startswith(_DHIP_MAGIC) or len(payload) < 32:
        return None
    length = int.from_bytes(payload[16:20], "little")
    body = payload[32 : 32 + length] if 0 < length <= len(payload) - 32 else payload[32:]
    message = _json_object(body) or {}
    method = clean_field(message.get("method")) or ""
    info = _member(_member(message, "params"), "deviceInfo")
    ipv4 = _member(info, "IPv4Address")
    oem = vendor_from_text(clean_field(info.get("Vendor")))
    return DiscoveryInfo(
        protocol="dhip",
        vendor=oem if oem in ("lorex", "amcrest") else "dahua",
        kind="probe" if "search" in method.lower() else "reply",
        model=clean_field(info.get("DeviceType")),
        serial=clean_field(info.get("SerialNo")),
        firmware=clean_field(info.get("Version")),
        mac=mac_field(info.get("Mac") or message.get("mac")),
        ipv4=ipv4_field(ipv4.get("IPAddress")),
        name=clean_field(info.get("MachineName")),
        extra=extra_fields([("method", method), *info.items()], _DHIP_FIELDS),
    )


def parse_dahua_legacy(payload: bytes) -> DiscoveryInfo | None:
    """Dahua discovery v1 on UDP 5050: request starts ``a3``, answer ``b3`` (binary).

    Answer layout (UniversalScanner, python-dvr): device type[16] at 40, IPv4 at 56, MAC
    text at 120 (17 bytes), then the model, then ``Key:Value`` lines (SerialNo, ...).
    """
    if len(payload) < 32 or payload[0] not in (0xA3, 0xB3):
        return None
    if payload[0] == 0xA3:
        return DiscoveryInfo(protocol="dahua-5050", vendor="dahua", kind="probe")
    section2 = int.from_bytes(payload[2:4], "little")
    tail = payload[137 : 120 + section2] if section2 > 17 else b""
    pairs = [
        (key.strip(), value)
        for line in payload[120 + max(section2, 17) :].decode("latin-1").splitlines()
        for key, sep, value in [line.partition(":")]
        if sep
    ]
    values = dict(pairs)
    ipv4 = ".".join(str(b) for b in payload[56:60]) if len(payload) >= 60 else None
    return DiscoveryInfo(
        protocol="dahua-5050",
        vendor="dahua",
        kind="reply",
        model=_cstring(tail, 0, len(tail)) or _cstring(payload, 40, 16),
        serial=clean_field(values.get("SerialNo")),
        mac=mac_field(payload[120:137].decode("latin-1")),
        ipv4=ipv4_field(ipv4),
        extra=extra_fields(pairs, ("SerialNo",)),
    )


def _onvif_scopes(scopes: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for uri in scopes.split():
        if uri.lower().startswith("onvif://www.onvif.org/"):
            key, _, value = uri[len("onvif://www.onvif.org/") :].partition("/")
            out.setdefault(key.lower(), unquote(value).strip())
    return out


def _host_ipv4(url: str) -> str | None:
    try:
        return ipv4_field(urlsplit(url).hostname)
    except ValueError:
        return None


def parse_ws_discovery(payload: bytes) -> DiscoveryInfo | None:
    """ONVIF WS-Discovery (UDP 3702): Probe, ProbeMatches, Resolve(Matches), Hello, Bye."""
    if b"Envelope" not in payload[:1024]:
        return None
    body = _WSD_BODY.search(payload)
    if body is None:
        return None
    leaves = xml_leaves(payload)
    scopes = _onvif_scopes(leaves.get("Scopes", ""))
    xaddrs = leaves.get("XAddrs", "").split()
    name, model = scopes.get("name"), scopes.get("hardware")
    found = (leaves.get("Types"), " ".join(xaddrs), scopes.get("location"), leaves.get("Address"))
    return DiscoveryInfo(
        protocol="ws-discovery",
        vendor=vendor_from_text(scopes.get("manufacturer"), name, model, scopes.get("mfr")),
        kind=_WSD_KINDS[body.group(1).decode("ascii")],
        model=clean_field(model),
        serial=clean_field(scopes.get("serial") or scopes.get("serialnumber")),
        mac=mac_field(scopes.get("mac")),
        ipv4=_host_ipv4(xaddrs[0]) if xaddrs else None,
        name=clean_field(name),
        extra=extra_fields(zip(_WSD_EXTRA, found, strict=True)),
    )


def _instance(msg: DnsMessage, service: str) -> str | None:
    marker = f".{service}."
    for rr in (*msg.answers, *msg.additionals):
        for name in (rr.name, rr.value if rr.rtype == TYPE_PTR else None):
            instance = name.split(marker, 1)[0] if name and marker in name else ""
            if instance and not instance.endswith("._sub"):
                return instance
    return None


def parse_mdns(payload: bytes) -> DiscoveryInfo | None:
    """mDNS (UDP 5353): service types, instance and host names; Axis services name the vendor."""
    msg = parse_dns(payload)
    if msg is None or not (msg.questions or msg.answers or msg.additionals):
        return None
    services = mdns_services(msg)
    vendor_service = next((s for s in services if s in _MDNS_VENDOR_SERVICES), None)
    records = (*msg.answers, *msg.additionals)
    host = next((rr for rr in records if rr.rtype == TYPE_A and rr.value), None)
    target = next((rr.value for rr in records if rr.rtype == TYPE_SRV and rr.value), None)
    service = vendor_service or (services[0] if services else None)
    instance = _instance(msg, service) if service else None
    axis = _AXIS_INSTANCE.match(instance or "") if vendor_service else None
    txt = [t for rr in records if rr.rtype == _dns.TYPE_TXT for t in str(rr.value).split("; ")]
    pairs = [("service", s) for s in services] + [("host", host.name if host else "")]
    return DiscoveryInfo(
        protocol="mdns",
        vendor=_MDNS_VENDOR_SERVICES.get(vendor_service or ""),
        kind="announce" if msg.is_response else "probe",
        model=axis.group(1).upper() if axis else None,
        mac=mac_field(axis.group(2)) if axis else None,
        ipv4=host.value if host else None,
        name=clean_field(instance or target or (host.name if host else None)),
        extra=extra_fields(pairs + [("txt", t) for t in txt]),
    )


def _xm_ip(value: object) -> str | None:
    text = clean_field(value)
    if not text or not text.lower().startswith("0x") or len(text) > 10:
        return None
    try:
        number = int(text, 16)
    except ValueError:
        return None
    return ".".join(str(b) for b in number.to_bytes(4, "little"))


def parse_xmeye(payload: bytes) -> DiscoveryInfo | None:
    """Xiongmai/XMEye search on UDP 34569: 20-byte header ``ff 00|01 00 00``, then JSON."""
    if len(payload) < 20 or payload[0] != 0xFF or payload[1] > 1 or payload[2:4] != b"\x00\x00":
        return None
    msg_id = int.from_bytes(payload[14:16], "little")
    length = int.from_bytes(payload[16:20], "little")
    message = (_json_object(payload[20 : 20 + length]) if length else None) or {}
    common = _member(message, "NetWork.NetCommon")
    return DiscoveryInfo(
        protocol="xmeye",
        vendor="xiongmai",
        kind="probe" if msg_id == _XMEYE_SEARCH and not common else "reply",
        model=clean_field(common.get("DeviceModel") or common.get("Model")),
        serial=clean_field(common.get("SN")),
        firmware=clean_field(common.get("Version")),
        mac=mac_field(common.get("MAC")),
        ipv4=_xm_ip(common.get("HostIP")),
        name=clean_field(common.get("HostName")),
        extra=extra_fields([("msg_id", msg_id), *common.items()], _XMEYE_FIELDS),
    )


def parse_ssdp_discovery(payload: bytes) -> DiscoveryInfo | None:
    """SSDP (UDP 1900) as a DiscoveryInfo; the vendor comes from SERVER/USER-AGENT words."""
    msg = parse_ssdp(payload)
    if msg is None:
        return None
    kind = {"M-SEARCH": "probe", "NOTIFY": "announce"}.get(msg.kind, "reply")
    igd = "search" if is_igd_search(msg) else "advert" if is_igd_advert(msg) else None
    found = (msg.st, msg.nt, msg.nts, msg.location, msg.server, igd)
    return DiscoveryInfo(
        protocol="ssdp",
        vendor=vendor_from_text(msg.server, msg.user_agent),
        kind=kind,
        ipv4=_host_ipv4(msg.location) if msg.location else None,
        name=clean_field(msg.usn),
        extra=extra_fields(zip(_SSDP_EXTRA, found, strict=True)),
    )


_BY_PORT: dict[int, Callable[[bytes], DiscoveryInfo | None]] = {
    37020: parse_sadp,
    37810: parse_dhip,
    5050: parse_dahua_legacy,
    3702: parse_ws_discovery,
    34569: parse_xmeye,
    5353: parse_mdns,
    1900: parse_ssdp_discovery,
}
DISCOVERY_PORTS = frozenset(_BY_PORT)


def dissect_discovery(udp_port: int, payload: bytes) -> DiscoveryInfo | None:
    """Dissect a discovery datagram by its well-known UDP port (either side's port)."""
    parser = _BY_PORT.get(udp_port)
    return parser(payload) if parser is not None else None
