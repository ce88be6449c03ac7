"""SSDP messages and UPnP IGD SOAP port-mapping requests (AddPortMapping, AddPinhole)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from monitor.decode.http import HttpRequest, parse_http_request, parse_http_response

MAPPING_ACTIONS = ("AddPortMapping", "AddAnyPortMapping", "AddPinhole")
_IGD_MARKERS = (
    "internetgatewaydevice",
    "wanipconnection",
    "wanpppconnection",
    "wanipv6firewallcontrol",
    "wandevice",
    "wanconnectiondevice",
)
_SSDP_PREFIXES = (b"M-SEARCH ", b"NOTIFY ", b"HTTP/1.")
_MAX_BODY = 16384
# Leaf elements <ns:Name attr>text</...>; the body is small and only reached after a
# SOAPAction/body check, so one bounded regex pass is fine here.
# Possessive (*+): what follows each run is a character the run cannot hold, so giving
# characters back never helps; a tag that is no leaf fails without backtracking (~1/3 less).
_LEAF = re.compile(rb"<(?:[A-Za-z_][\w.-]*+:)?([A-Za-z_][\w.-]*+)(?:\s[^<>]*+)?>([^<]*+)</")
_ACTION_IN_BODY = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?(AddPortMapping|AddAnyPortMapping|AddPinhole)[\s>/]"
)
_SERVICE_URN = re.compile(rb"urn:schemas-upnp-org:service:([A-Za-z0-9]{1,40}):[0-9]")
_PROTOCOL_NUMBERS = {"6": "TCP", "17": "UDP"}


@dataclass(frozen=True, slots=True)
class SsdpMessage:
    """An SSDP datagram; ``kind`` is "M-SEARCH", "NOTIFY" or "RESPONSE"."""

    kind: str
    st: str | None
    nt: str | None
    nts: str | None
    usn: str | None
    location: str | None
    server: str | None
    man: str | None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class PortMappingRequest:
    """A UPnP IGD request that opens the gateway; fields are None when not in the bytes seen."""

    action: str
    service: str | None
    external_port: int | None
    internal_port: int | None
    internal_client: str | None
    protocol: str | None
    description: str | None
    lease_duration: int | None
    remote_host: str | None


def parse_ssdp(payload: bytes) -> SsdpMessage | None:
    """Parse an SSDP M-SEARCH, NOTIFY or search response; None for anything else."""
    if not payload.startswith(_SSDP_PREFIXES):
        return None
    if payload.startswith(b"HTTP/"):
        response = parse_http_response(payload)
        if response is None:
            return None
        kind, headers = "RESPONSE", response.headers
    else:
        request = parse_http_request(payload)
        if request is None or request.protocol != "http":
            return None
        kind, headers = request.method, request.headers
    man = headers.get("man")
    return SsdpMessage(
        kind=kind,
        st=headers.get("st"),
        nt=headers.get("nt"),
        nts=headers.get("nts"),
        usn=headers.get("usn"),
        location=headers.get("location"),
        server=headers.get("server"),
        man=man.strip('"') if man is not None else None,
        user_agent=headers.get("user-agent"),
    )


def _mentions_igd(value: str | None) -> bool:
    if not value:
        return False
    lowered = value.lower()
    return any(marker in lowered for marker in _IGD_MARKERS)


def is_igd_search(msg: SsdpMessage) -> bool:
    """True for an M-SEARCH looking for an Internet gateway (IGD, WANIP/WANPPP connection).

    ``ssdp:all`` and ``upnp:rootdevice`` are ordinary discovery and do not count.
    """
    return msg.kind == "M-SEARCH" and _mentions_igd(msg.st)


def is_igd_advert(msg: SsdpMessage) -> bool:
    """True when the sender announces itself as an Internet gateway (NOTIFY or search reply)."""
    if msg.kind == "NOTIFY":
        return _mentions_igd(msg.nt)
    return msg.kind == "RESPONSE" and _mentions_igd(msg.st)


def _action_from_header(soap_action: str | None) -> tuple[str | None, str | None]:
    """(action, service) from ``urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping``."""
    if not soap_action:
        return None, None
    urn, _, action = soap_action.strip().strip('"').rpartition("#")
    parts = urn.split(":")
    service = parts[-2] if len(parts) >= 2 and parts[-1].isdigit() else None
    return (action if action in MAPPING_ACTIONS else None), service


def _int_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None


def xml_leaves(data: bytes, limit: int = 65536) -> dict[str, str]:
    """First text of each leaf element by local name (``<u:NewExternalPort>80</...>``).

    A tolerant scan, not an XML parser: no entities beyond the predefined ones, no DTDs,
    works on cut documents. Used for SOAP bodies and discovery XML.
    """
    out: dict[str, str] = {}
    for raw_name, raw_text in _LEAF.findall(data[:limit]):  # no Match objects: 1/4 faster
        name = raw_name.decode("ascii")
        if name not in out:
            text = raw_text.decode("utf-8", "replace")
            out[name] = (html.unescape(text) if "&" in text else text).strip()
    return out


def _pinhole(args: dict[str, str], service: str | None) -> PortMappingRequest:
    """IGDv2 WANIPv6FirewallControl AddPinhole: Protocol is an IP protocol number."""
    protocol = args.get("Protocol")
    return PortMappingRequest(
        action="AddPinhole",
        service=service,
        external_port=None,
        internal_port=_int_or_none(args.get("InternalPort")),
        internal_client=args.get("InternalClient"),
        protocol=_PROTOCOL_NUMBERS.get(protocol or "", protocol),
        description=None,
        lease_duration=_int_or_none(args.get("LeaseTime")),
        remote_host=args.get("RemoteHost") or None,
    )


def parse_port_mapping_request(req: HttpRequest) -> PortMappingRequest | None:
    """Recognise AddPortMapping / AddAnyPortMapping / AddPinhole from SOAPAction or the body."""
    if req.protocol != "http" or req.method not in ("POST", "M-POST"):
        return None
    action, service = _action_from_header(req.soap_action)
    if action is None:
        found = _ACTION_IN_BODY.search(req.body[:_MAX_BODY])
        if found is None:
            return None
        action = found.group(1).decode("ascii")
    if service is None:
        urn = _SERVICE_URN.search(req.body[:_MAX_BODY])
        service = urn.group(1).decode("ascii") if urn else None
    args = xml_leaves(req.body, _MAX_BODY)
    if action == "AddPinhole":
        return _pinhole(args, service)
    protocol = args.get("NewProtocol")
    return PortMappingRequest(
        action=action,
        service=service,
        external_port=_int_or_none(args.get("NewExternalPort")),
        internal_port=_int_or_none(args.get("NewInternalPort")),
        internal_client=args.get("NewInternalClient"),
        protocol=protocol.upper() if protocol else None,
        description=args.get("NewPortMappingDescription"),
        lease_duration=_int_or_none(args.get("NewLeaseDuration")),
        remote_host=args.get("NewRemoteHost") or None,
    )
