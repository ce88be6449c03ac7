"""What one piece of traffic says about a device, as :class:`DeviceFact` evidence.

Pure rules, no state: a discovery announcement, a DHCP message, a banner or a host name
in, a list of facts (vendor, model, firmware, serial, mac, hostname, role, software) out,
each with its source and a confidence:

- ``high``: the device states it in a vendor protocol or registry (SADP, DHIP, XMEye,
  DHCP option 60 of a known format, the IEEE OUI registry, Axis mDNS services);
- ``medium``: a generic protocol or banner names it (ONVIF scopes, SSDP SERVER, HTTP and
  RTSP Server headers and realms, DHCP host names, vendor model naming);
- ``low``: a hint (a host name containing "cam", a contacted vendor cloud, an OUI of a
  maker whose networked products are mostly cameras).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from monitor.decode.dhcp import DhcpMessage
from monitor.decode.discovery import DiscoveryInfo, vendor_from_text
from monitor.model import DeviceFact

DECLARED, HIGH, MEDIUM, LOW = "declared", "high", "medium", "low"
WEIGHT = {DECLARED: 4, HIGH: 3, MEDIUM: 2, LOW: 1}
ROLE_TIE_ORDER = ("recorder", "camera", "workstation", "infrastructure", "server", "other")
PROTOCOL_NAMES = {
    "sadp": "Hikvision SADP",
    "dhip": "Dahua DHIP",
    "dahua-5050": "Dahua discovery (UDP 5050)",
    "ws-discovery": "ONVIF WS-Discovery",
    "mdns": "mDNS",
    "ssdp": "SSDP",
    "xmeye": "XMEye search (UDP 34569)",
}
# Protocols only one vendor speaks: what they say is the device's own statement.
_VENDOR_PROTOCOLS = frozenset({"sadp", "dhip", "dahua-5050", "xmeye"})
# Vendor model naming (product catalogues): model prefix -> role. Inferred from the
# vendors' public naming schemes; ``None`` applies to any vendor.
_MODEL_ROLES: tuple[tuple[str | None, re.Pattern[str], str], ...] = tuple(
    (vendor, re.compile(pattern, re.I), role)
    for vendor, pattern, role in (
        ("hikvision", r"^i?DS-2", "camera"),  # DS-2CD fixed, DS-2DE/2DF PTZ
        ("hikvision", r"^i?DS-[789]\d", "recorder"),  # DS-76xxNI NVR, DS-72xx DVR, DS-96xx
        ("dahua", r"^(DHI?-)?(IPC|SD\d|PTZ|HAC|TPC|PFM)", "camera"),
        ("dahua", r"^(DHI?-)?(NVR|XVR|HCVR|DVR|IVSS|EVS)", "recorder"),
        ("axis", r"^[MPQF]\d{4}", "camera"),
        ("axis", r"^S\d{4}", "recorder"),
        ("dlink", r"^DCS-", "camera"),
        ("dlink", r"^DNR-", "recorder"),
        ("edimax", r"^IC-\d", "camera"),
        (None, r"\b(NVR|DVR|XVR)\b", "recorder"),
        (None, r"(IP ?CAM|NETWORK CAMERA|IP CAMERA|^IPC\b)", "camera"),
    )
)
# Model numbers distinctive enough to be picked out of host names and banners, with the
# lower-case pieces each pattern cannot match without: an ASCII text that has none of them
# is not searched (most banners and SSDP fields; the patterns are case-insensitive).
_MODEL_IN_TEXT: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (vendor, re.compile(pattern, re.I), needs)
    for vendor, pattern, needs in (
        ("hikvision", r"(?<![A-Z0-9])i?DS-\d[A-Z0-9]{3,}(?:-[A-Z0-9]+)*", ("ds-",)),
        ("dahua", r"(?<![A-Z0-9])(?:DHI?-)?(?:IPC|NVR|XVR|HCVR)-[A-Z0-9]{4,}(?:-[A-Z0-9]+)*",
         ("ipc-", "vr-")),
        ("dlink", r"(?<![A-Z0-9])D(?:CS|NR)-\d{3,4}[A-Z0-9]*", ("dcs-", "dnr-")),
        ("edimax", r"(?<![A-Z0-9])IC-\d{4}[A-Z0-9]*", ("ic-",)),
    )
)  # fmt: skip
# A Hikvision serial is the model, the production date and a serial number.
_HIK_SERIAL = re.compile(r"^(i?DS-[0-9A-Z][0-9A-Z-]+?)(20\d{6})[A-Z]{4}")
_CAMERA_NAME = re.compile(r"(?<![a-z])(?:ip|iot|local|net|web)?cam(?:era)?\d*(?![a-z])", re.I)
_RECORDER_NAME = re.compile(r"(?<![a-z])(?:nvr|dvr|xvr)\d*(?![a-z])", re.I)
_CAMERA_WORDS = re.compile(r"network ?camera|ip ?camera|networkcamera|ipcam", re.I)
# Desktop and server RTSP software: serving RTSP with these is not a camera.
SOFTWARE_MEDIA_SERVERS = re.compile(
    r"^(VLC|Wowza|MediaMTX|rtsp-simple-server|Darwin|QTSS|Helix|Kurento|Red5|Ant ?Media)\b",
    re.I,
)
_NO_NAMES = re.compile(r"^(localhost|uuid:.*|\[?[0-9a-f:]{17}\]?|[0-9a-f]{12}|none|unknown)$", re.I)
_REALM = re.compile(r'realm="[^"]{0,80}"', re.I)
_TXT_MODEL_KEYS = ("model_number", "model", "modelname", "md", "product", "ty")
_TXT_FIRMWARE_KEYS = ("fw", "fwver", "fw_ver", "firmware", "firmware_version", "fwversion")
_TXT_SERIAL_KEYS = ("serial", "sn", "serialnumber")


def fact(name: str, value: object, source: str, confidence: str) -> DeviceFact | None:
    """A fact, or None when the value is empty."""
    text = str(value).strip() if value is not None else ""
    return DeviceFact(name, text[:128], source, confidence) if text else None


def collect(*facts: DeviceFact | Iterable[DeviceFact | None] | None) -> list[DeviceFact]:
    """The non-None facts of the arguments (single facts or iterables of them), flattened."""
    out: list[DeviceFact] = []
    for item in facts:
        if isinstance(item, DeviceFact) or item is None:
            out += [item] if item is not None else []
        else:
            out += [f for f in item if f is not None]
    return out


def role_for_model(vendor: str | None, model: str) -> str | None:
    """The role a vendor's model naming implies (``DS-2CD...`` camera, ``DS-76...`` NVR)."""
    for rule_vendor, pattern, role in _MODEL_ROLES:
        if (rule_vendor is None or rule_vendor == vendor) and pattern.search(model):
            return role
    return None


def _contains_any(text: str, pieces: tuple[str, ...]) -> bool:
    for piece in pieces:  # noqa: SIM110 - a loop, not any() over a generator: called often
        if piece in text:
            return True
    return False


def models_in_text(text: str, source: str, confidence: str) -> list[DeviceFact]:
    """Model numbers of distinctive families in free text, with the vendor they imply."""
    out: list[DeviceFact] = []
    lowered = text.lower() if text.isascii() else None  # beyond ASCII, case folds differ
    for vendor, pattern, needs in _MODEL_IN_TEXT:
        if lowered is not None and not _contains_any(lowered, needs):
            continue
        found = pattern.search(text)
        if found:
            out += collect(
                fact("model", found.group(0).upper(), source, confidence),
                fact("vendor", vendor, f"{source} (model naming)", LOW),
            )
    return out


def model_from_hik_serial(serial: str, source: str) -> DeviceFact | None:
    """``DS-2CD2143G2-I20230815AAWR...`` -> model ``DS-2CD2143G2-I``."""
    found = _HIK_SERIAL.match(serial)
    return fact("model", found.group(1), f"{source} serial number", MEDIUM) if found else None


def useful_name(name: str | None) -> str | None:
    """A name worth showing as a host name (not a UUID, a MAC, ``LocalHost``...)."""
    if not name or _NO_NAMES.match(name.strip()):
        return None
    name = name.strip()
    if name.isalpha() and vendor_from_text(name) is not None:
        return None  # "HIKVISION" names the maker, not the host
    return name


def name_facts(name: str | None, source: str, confidence: str) -> list[DeviceFact]:
    """A self-chosen name: the host name, models in it, and a role hint from its words."""
    name = useful_name(name)
    if name is None:
        return []
    role = (
        "camera"
        if _CAMERA_NAME.search(name)
        else "recorder"
        if _RECORDER_NAME.search(name)
        else None
    )
    hint = fact("role", role, f"{source} {name!r}", LOW) if role else None
    return collect(fact("hostname", name, source, confidence), hint) + models_in_text(
        name, source, confidence
    )


def _extra(info: DiscoveryInfo, key: str) -> list[str]:
    return [v for k, v in info.extra if k == key]


def discovery_facts(info: DiscoveryInfo) -> list[DeviceFact]:
    """Facts from one discovery reply or announcement (probes say nothing about the sender)."""
    if info.kind == "probe":
        return []
    src = f"{PROTOCOL_NAMES.get(info.protocol, info.protocol)} {info.kind}"
    own = info.protocol in _VENDOR_PROTOCOLS
    strong = HIGH if own else MEDIUM
    out = collect(
        fact("vendor", info.vendor, src, HIGH if own or info.protocol == "mdns" else MEDIUM),
        fact("model", info.model, src, HIGH if own or info.protocol == "mdns" else MEDIUM),
        fact("firmware", info.firmware, src, strong),
        fact("serial", info.serial, src, strong),
        fact("mac", info.mac, src, strong),
    )
    if own and not info.firmware:  # Dahua 5050 answers carry it as a Version line
        out += collect(fact("firmware", next(iter(_extra(info, "Version")), None), src, HIGH))
    if info.protocol == "sadp" and info.serial and not info.model:
        out += collect(model_from_hik_serial(info.serial, src))
    if info.protocol != "ssdp":
        out += name_facts(info.name, src, MEDIUM if own else LOW)
    out += _ROLE_RULES.get(info.protocol, _no_role)(info, src)
    return out


def _no_role(info: DiscoveryInfo, src: str) -> list[DeviceFact]:
    return []


def _class_role(text: str) -> str | None:
    """IPC / NVR / DVR words of a device class or type field."""
    upper = text.upper()
    if re.search(r"NVR|DVR|XVR|HCVR|NVS|IVSS", upper):
        return "recorder"
    if re.search(r"IPC|IPCAMERA|CAMERA|\bSD\b|PTZ", upper):
        return "camera"
    return None


def _sadp_dhip_role(info: DiscoveryInfo, src: str) -> list[DeviceFact]:
    out: list[DeviceFact] = []
    for key in ("DeviceClass", "DeviceType"):
        for value in _extra(info, key):
            role = _class_role(value)
            out += collect(fact("role", role, f"{src} {key} {value!r}", HIGH) if role else None)
    return out


def _wsd_role(info: DiscoveryInfo, src: str) -> list[DeviceFact]:
    types = " ".join(_extra(info, "types"))
    if "NetworkVideoStorage" in types or "NetworkVideoRecorder" in types:
        return collect(fact("role", "recorder", f"{src} Types {types!r}", MEDIUM))
    if "NetworkVideoTransmitter" in types:
        return collect(fact("role", "camera", f"{src} Types NetworkVideoTransmitter", MEDIUM))
    return []


def _mdns_role(info: DiscoveryInfo, src: str) -> list[DeviceFact]:
    services = _extra(info, "service")
    out = collect(
        fact("role", "camera", f"{src} {s}", HIGH) if s == "_axis-video._tcp" else None
        for s in services
    )
    out += collect(
        fact("role", "recorder", f"{src} {s}", HIGH) if s == "_axis-nvr._tcp" else None
        for s in services
    )
    for host in _extra(info, "host"):
        out += name_facts(host.removesuffix(".local"), f"{src} host name", LOW)
    for txt in _extra(info, "txt"):
        out += txt_facts(txt, f"{src} TXT")
    return out


def txt_facts(txt: str, src: str) -> list[DeviceFact]:
    """DNS-SD TXT strings (``model_number=DCS-935L; mac=...``, ``IC-3115W Network Camera``)."""
    out: list[DeviceFact] = []
    for item in (part.strip() for part in txt.split(";")):
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if sep and key in _TXT_MODEL_KEYS:
            out += collect(fact("model", value.strip(), f"{src} {key}", HIGH))
        elif sep and key in _TXT_FIRMWARE_KEYS:
            out += collect(fact("firmware", value, f"{src} {key}", HIGH))
        elif sep and key in _TXT_SERIAL_KEYS:
            out += collect(fact("serial", value, f"{src} {key}", HIGH))
        elif not sep and _CAMERA_WORDS.search(item):
            out += collect(fact("role", "camera", f"{src} {item!r}", MEDIUM))
            out += models_in_text(item, src, MEDIUM)
    return out


def _ssdp_role(info: DiscoveryInfo, src: str) -> list[DeviceFact]:
    out: list[DeviceFact] = []
    for key in ("nt", "st"):
        for value in _extra(info, key):
            if _CAMERA_WORDS.search(value) or value.lower().endswith(":networkcamera"):
                out += collect(fact("role", "camera", f"{src} {key.upper()} {value!r}", MEDIUM))
            out += models_in_text(value, f"{src} {key.upper()}", MEDIUM)
    for server in _extra(info, "server"):
        out += models_in_text(server, f"{src} SERVER", MEDIUM)
        out += collect(fact("software", server, f"{src} SERVER", MEDIUM))
    for location in _extra(info, "location"):
        if _CAMERA_WORDS.search(location):
            out += collect(fact("role", "camera", f"{src} LOCATION {location!r}", LOW))
    return out


def _xmeye_role(info: DiscoveryInfo, src: str) -> list[DeviceFact]:
    channels = next((v for v in _extra(info, "ChannelNum") if v.isdigit()), None)
    if channels is None:
        return []
    role, conf = ("camera", LOW) if int(channels) <= 1 else ("recorder", MEDIUM)
    return collect(fact("role", role, f"{src} ChannelNum {channels}", conf))


_ROLE_RULES = {
    "sadp": _sadp_dhip_role,
    "dhip": _sadp_dhip_role,
    "ws-discovery": _wsd_role,
    "mdns": _mdns_role,
    "ssdp": _ssdp_role,
    "xmeye": _xmeye_role,
}


def dhcp_client_facts(msg: DhcpMessage) -> list[DeviceFact]:
    """Facts from a client's DHCP message: option 12 host name, option 60 vendor class."""
    out = name_facts(msg.hostname, "DHCP option 12 host name", MEDIUM)
    out += name_facts(msg.client_fqdn, "DHCP option 81 FQDN", LOW)
    vc = msg.vendor_class
    if not vc:
        return out
    src = f"DHCP option 60 {vc!r}"
    parts = [p.strip() for p in vc.split(",")]
    if len(parts) >= 3 and parts[0].upper() == "AXIS":  # AXIS,Network Camera,<model>,<fw>
        role = "camera" if "camera" in parts[1].lower() else _class_role(parts[1])
        return out + collect(
            fact("vendor", "axis", src, HIGH),
            fact("role", role, src, HIGH) if role else None,
            fact("model", parts[2], src, HIGH),
            fact("firmware", parts[3] if len(parts) > 3 else None, src, HIGH),
        )
    role = "workstation" if vc.upper().startswith("MSFT") else None
    role = role or ("camera" if _CAMERA_WORDS.search(vc) else None)
    return out + collect(
        fact("software", vc, "DHCP option 60 vendor class", HIGH),
        fact("vendor", vendor_from_text(vc), src, MEDIUM),
        fact("role", role, src, MEDIUM) if role else None,
        models_in_text(vc, src, MEDIUM),
    )


def banner_facts(banner_vendor: str | None, what: str, text: str) -> list[DeviceFact]:
    """An HTTP/RTSP Server header, realm or User-Agent: the vendor it names, the software."""
    realm = _REALM.search(text) if what.endswith("WWW-Authenticate") else None
    src = f"{what} {realm.group(0) if realm else repr(text[:80])}"
    media_server = what.endswith("Server header") and SOFTWARE_MEDIA_SERVERS.search(text)
    return collect(
        fact("vendor", banner_vendor, src, MEDIUM),
        fact("software", text, what, HIGH) if what.endswith("Server header") else None,
        fact("role", "server", f"{src} is media server software", MEDIUM) if media_server else None,
    )
