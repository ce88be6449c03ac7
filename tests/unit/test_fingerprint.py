"""Device fingerprinting: evidence rules, behaviour, resolution, inventory overlay, hooks."""

from __future__ import annotations

import ipaddress
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.classify import device_rules as rules
from monitor.classify import fingerprint
from monitor.classify.catalog import load_catalog
from monitor.classify.devices import DeviceBook, apply_facts, resolve
from monitor.classify.fingerprint import Fingerprinter, behaviour_facts
from monitor.classify.inspector import DISCOVERY_INTERVAL, Inspector, identifies_sender
from monitor.classify.names import NameCache
from monitor.config import DeviceEntry, Policy, default_policy
from monitor.decode.dhcp import DhcpMessage
from monitor.decode.discovery import DiscoveryInfo
from monitor.flow.state import TCP_ACK, TCP_SYN, FlowState, Observation
from monitor.model import IPPROTO_TCP, IPPROTO_UDP, DeviceFact, DeviceSummary

CATALOG = load_catalog()
N = 0


def flow(orig: str, resp: str, port: int, proto: int = IPPROTO_TCP, **kw: object) -> FlowState:
    global N
    N += 1
    f = FlowState(N, f"F{N}", proto, orig, 50000 + N, resp, port, True, 0.0, 1.0)
    f.orig_pkts, f.resp_pkts = 3, int(kw.pop("resp_pkts", 2))  # type: ignore[call-overload]
    f.orig_flags, f.resp_flags = TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK
    f.device = orig
    for key, value in kw.items():
        setattr(f, key, value)
    return f


def closed(addr: str) -> bool:
    return ipaddress.ip_address(addr).is_private


def facts(evidence: list[DeviceFact], name: str) -> set[str]:
    return {f.value for f in evidence if f.fact == name}


# -- rules ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("vendor", "model", "role"),
    [
        ("hikvision", "DS-2CD2143G2-I", "camera"),
        ("hikvision", "DS-7616NI-K2", "recorder"),
        ("dahua", "IPC-HFW2431S-S-S2", "camera"),
        ("dahua", "DHI-NVR4108HS-4KS2", "recorder"),
        ("axis", "P3245-V", "camera"),
        ("dlink", "DCS-935L", "camera"),
        ("edimax", "IC-3115W", "camera"),
        (None, "XVR5108HS", None),
        (None, "Generic NVR 16", "recorder"),
        ("hikvision", "IMAC11,3", None),
    ],
)
def test_model_naming(vendor: str | None, model: str, role: str | None) -> None:
    assert rules.role_for_model(vendor, model) == role


PIECES = ["DS-", "ds-", "iDS-", "DHI-", "IPC-", "ipc-", "NVR-", "xVr-", "HCVR-", "DCS-",
          "Dnr-", "IC-", "ic-", "2CD2143", "935L", "1234", "A", "-", " ", "/", "x", "S", "k",
          "\u017f", "\u212a", "\u0130"]  # fmt: skip  # long s, Kelvin sign, dotted I


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=10).map("".join))
@example("D\u017f-2CD2143")  # re.I: a long s is an s, though "\u017f".lower() is no "s"
@example("\u0130PC-12345")  # ... and a dotted capital I an i
def test_models_in_text_finds_what_every_pattern_finds(text: str) -> None:
    """The pre-filter only skips patterns that cannot match (re.I folds beyond ASCII)."""
    found = rules.models_in_text(text, "s", rules.MEDIUM)
    with mock.patch.object(rules, "_contains_any", lambda text, pieces: True):
        assert found == rules.models_in_text(text, "s", rules.MEDIUM)


def test_models_in_text_and_hikvision_serials() -> None:
    found = rules.models_in_text("Linux,    UPnP/1.0 DCS-935L/1.0", "SSDP SERVER", rules.MEDIUM)
    assert facts(found, "model") == {"DCS-935L"} and facts(found, "vendor") == {"dlink"}
    assert rules.models_in_text("Linux/4.9 UPnP/1.0", "x", rules.LOW) == []
    serial = rules.model_from_hik_serial("DS-7616NI-K220230601CCWRG12345678", "SADP")
    assert serial is not None and serial.value == "DS-7616NI-K2"
    assert rules.model_from_hik_serial("7J0A1B2PAZ3C413", "x") is None


def test_names_are_filtered_and_hint_at_roles() -> None:
    assert rules.useful_name("uuid:ae67e622-7a66") is None
    assert rules.useful_name("[74:da:38:80:7a:08]") is None
    assert rules.useful_name("LocalHost") is None and rules.useful_name("HIKVISION") is None
    assert facts(rules.name_facts("localcam", "mDNS", rules.LOW), "role") == {"camera"}
    assert facts(rules.name_facts("nvr-2", "DHCP", rules.MEDIUM), "role") == {"recorder"}
    assert facts(rules.name_facts("camden-router", "DHCP", rules.MEDIUM), "role") == set()


def test_dhcp_vendor_classes() -> None:
    axis = DhcpMessage(1, "request", 1, "00:40:8c:1a:2b:14", None, None,
                       hostname="axis-00408c1a2b14",
                       vendor_class="AXIS,Network Camera,P3245-V,10.12.182")  # fmt: skip
    ev = rules.dhcp_client_facts(axis)
    assert facts(ev, "vendor") == {"axis"} and facts(ev, "role") == {"camera"}
    assert facts(ev, "model") == {"P3245-V"} and facts(ev, "firmware") == {"10.12.182"}
    windows = DhcpMessage(1, "request", 1, None, None, None, hostname="kevin-PC",
                          vendor_class="MSFT 5.0")  # fmt: skip
    ev = rules.dhcp_client_facts(windows)
    assert facts(ev, "role") == {"workstation"} and facts(ev, "hostname") == {"kevin-PC"}
    assert facts(ev, "software") == {"MSFT 5.0"}


def test_discovery_facts() -> None:
    sadp = DiscoveryInfo("sadp", "hikvision", "reply", model="DS-2CD2143G2-I", serial="S",
                         firmware="V5.7.3", mac="44:19:b6:00:00:01",
                         extra=(("DeviceType", "IPC"),))  # fmt: skip
    ev = rules.discovery_facts(sadp)
    assert {(f.fact, f.confidence) for f in ev if f.fact in ("vendor", "model")} == {
        ("vendor", "high"),
        ("model", "high"),
    }
    assert facts(ev, "role") == {"camera"}
    assert rules.discovery_facts(DiscoveryInfo("sadp", "hikvision", "probe")) == []
    extra = (("txt", "model_number=DCS-935L"), ("txt", "fw=1.06"))
    extra += (("txt", "IC-3115W Network Camera"), ("host", "localcam.local"))
    txt = DiscoveryInfo("mdns", None, "announce", extra=extra)
    ev = rules.discovery_facts(txt)
    assert facts(ev, "model") >= {"DCS-935L", "IC-3115W"} and facts(ev, "firmware") == {"1.06"}
    assert facts(ev, "role") == {"camera"} and facts(ev, "hostname") == {"localcam"}
    wsd = DiscoveryInfo("ws-discovery", None, "reply",
                        extra=(("types", "dn:NetworkVideoTransmitter"),))  # fmt: skip
    assert facts(rules.discovery_facts(wsd), "role") == {"camera"}
    xm = DiscoveryInfo("xmeye", "xiongmai", "reply", extra=(("ChannelNum", "16"),))
    assert facts(rules.discovery_facts(xm), "role") == {"recorder"}


def test_banners() -> None:
    ev = rules.banner_facts("hikvision", "RTSP WWW-Authenticate", 'Digest realm="Hikvision", n="1"')
    assert ev[0].source == 'RTSP WWW-Authenticate realm="Hikvision"'
    vlc = rules.banner_facts(None, "RTSP Server header", "VLC/3.0.12")
    assert facts(vlc, "role") == {"server"} and facts(vlc, "software") == {"VLC/3.0.12"}


# -- behaviour and hooks --------------------------------------------------------------------------
def test_behaviour_from_flows() -> None:
    prints = Fingerprinter(CATALOG)
    for cam in ("10.0.0.11", "10.0.0.12", "10.0.0.13"):
        prints.on_flow(flow("10.0.0.2", cam, 554), closed)
        prints.on_flow(flow("10.0.0.50", cam, 80), closed)
    prints.on_flow(flow("10.0.0.11", "10.0.0.53", 53, IPPROTO_UDP), closed)
    prints.on_flow(flow("10.0.0.11", "10.0.0.54", 53, IPPROTO_UDP, resp_pkts=0), closed)
    prints.on_flow(flow("10.0.0.11", "10.0.0.123", 123, IPPROTO_UDP), closed)
    prints.on_flow(flow("10.0.0.11", "10.0.0.77", 40000, IPPROTO_UDP), closed)  # RTP-like
    role = {ip: resolve(prints.evidence(ip, None), "role") for ip in prints.hosts}
    assert role["10.0.0.2"][0] == "recorder"  # type: ignore[index]
    assert role["10.0.0.11"][0] == "camera"  # type: ignore[index]
    assert role["10.0.0.50"][0] == "workstation"  # type: ignore[index]
    assert role["10.0.0.53"][0] == "infrastructure"  # type: ignore[index]
    assert role["10.0.0.123"][0] == "infrastructure"  # type: ignore[index]
    assert prints.services("10.0.0.11") == ["80/tcp http", "554/tcp rtsp"]
    assert prints.services("10.0.0.77") == [] and prints.dns_servers() == (
        ["10.0.0.53"],
        ["10.0.0.54"],
    )


def test_repeated_flows_learn_as_one_and_a_full_store_counts_every_drop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prints = Fingerprinter(CATALOG)
    prints.on_flow(flow("10.0.0.2", "10.0.0.11", 554, resp_pkts=0), closed)  # unanswered
    assert prints.services("10.0.0.11") == []
    for client in ("10.0.0.2", "10.0.0.2", "10.0.0.3"):  # answered; a second client counts
        prints.on_flow(flow(client, "10.0.0.11", 554), closed)
    assert prints.services("10.0.0.11") == ["554/tcp rtsp"]
    assert prints.hosts["10.0.0.11"].rtsp_clients == {"10.0.0.2", "10.0.0.3"}
    assert prints.hosts["10.0.0.2"].rtsp_sources == {"10.0.0.11"}
    # the store is full: each flow to an unknown camera drops its service and its client
    monkeypatch.setattr(fingerprint, "MAX_HOSTS", len(prints.hosts))
    for _ in range(3):
        prints.on_flow(flow("10.0.0.2", "10.0.0.99", 554), closed)
    assert prints.dropped == 6 and "10.0.0.99" not in prints.hosts
    assert prints.hosts["10.0.0.2"].rtsp_sources == {"10.0.0.11", "10.0.0.99"}


def test_a_banner_is_learned_for_every_host_and_a_full_store_counts_every_drop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prints = Fingerprinter(CATALOG)
    banner = [Observation(0.0, "server_banner", "App-webs/", "http")]
    for cam in ("10.0.0.11", "10.0.0.11", "10.0.0.12"):  # the same banner on two cameras
        prints.on_flow(flow("10.0.0.2", cam, 80, observations=list(banner)), closed)
    for cam in ("10.0.0.11", "10.0.0.12"):
        assert resolve(prints.evidence(cam, None), "vendor")[0] == "hikvision"  # type: ignore[index]
    monkeypatch.setattr(fingerprint, "MAX_HOSTS", len(prints.hosts))
    for _ in range(2):  # a new camera's banner and its web service are dropped, every time
        prints.on_flow(flow("10.0.0.2", "10.0.0.99", 80, observations=list(banner)), closed)
    assert prints.dropped == 4


def test_dropping_the_memos_keeps_every_fact() -> None:
    prints = Fingerprinter(CATALOG)
    banner = [Observation(0.0, "server_banner", "App-webs/", "http")]
    prints.on_flow(flow("10.0.0.2", "10.0.0.11", 554, observations=banner), closed)
    before = (prints.services("10.0.0.11"), prints.evidence("10.0.0.11", None))
    prints.drop_memos()
    assert not (prints._flow_shapes or prints._banners_learned or prints._banner_memo)
    assert (prints.services("10.0.0.11"), prints.evidence("10.0.0.11", None)) == before
    prints.on_flow(flow("10.0.0.3", "10.0.0.11", 554, observations=banner), closed)
    assert prints.hosts["10.0.0.11"].rtsp_clients == {"10.0.0.2", "10.0.0.3"}


def test_flow_shapes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint, "FLOW_MEMO_LIMIT", 8)
    prints = Fingerprinter(CATALOG)
    for n in range(100):  # more clients than a camera keeps
        prints.on_flow(flow(f"10.0.1.{n}", "10.0.0.11", 554), closed)
    assert len(prints._flow_shapes) <= 8
    assert len(prints.hosts["10.0.0.11"].rtsp_clients) == fingerprint.MAX_PEERS


def test_media_server_software_serving_rtsp_is_no_camera() -> None:
    prints = Fingerprinter(CATALOG)
    obs = [Observation(0.0, "server_banner", "VLC/3.0.12", "rtsp")]
    prints.on_flow(flow("10.2.2.1", "10.2.2.2", 8554, observations=obs), closed)
    assert resolve(prints.evidence("10.2.2.2", None), "role")[0] == "server"  # type: ignore[index]
    assert not any(f.value == "camera" for f in behaviour_facts(prints.hosts["10.2.2.2"]))


def test_banners_realms_user_agents_and_clouds() -> None:
    prints = Fingerprinter(CATALOG)
    obs = [
        Observation(0.0, "server_banner", "App-webs/", "http"),
        Observation(0.0, "response_head", "http", 'Basic realm="Hikvision"'),
        Observation(0.0, "user_agent", "XAPP", "http"),
    ]
    prints.on_flow(flow("10.0.0.15", "10.0.0.11", 80, observations=obs), closed)
    assert resolve(prints.evidence("10.0.0.11", None), "vendor")[0] == "hikvision"  # type: ignore[index]
    assert resolve(prints.evidence("10.0.0.15", None), "vendor")[0] == "xiongmai"  # type: ignore[index]
    cloud = flow("10.0.0.16", "52.8.178.58", 443, finding_kinds=["vendor_cloud"],
                 finding_details=[("api.ezvizlife.com", "ezviz-cloud")])  # fmt: skip
    prints.on_flow(cloud, closed)
    ev = prints.evidence("10.0.0.16", None)
    assert [(f.value, f.confidence) for f in ev] == [("hikvision", "low")]
    assert "52.8.178.58" not in prints.hosts


def test_oui_hints_and_locally_administered_macs() -> None:
    prints = Fingerprinter(CATALOG)
    ednet = prints.oui_facts("3c:49:37:03:17:db")
    assert facts(ednet, "vendor") == {"ednet"} and facts(ednet, "role") == {"camera"}
    dlink = prints.oui_facts("b0:c5:54:1c:71:85")
    assert facts(dlink, "vendor") == {"dlink"} and facts(dlink, "role") == set()
    assert prints.oui_facts("0a:20:00:00:00:01") == []


def test_dhcp_hook_binds_mac_and_names_the_server() -> None:
    prints = Fingerprinter(CATALOG)
    mac = "3c:49:37:03:17:db"
    request = DhcpMessage(1, "request", 7, mac, None, None, hostname="cam-7", vendor_class="x")
    ack = DhcpMessage(2, "ack", 7, mac, None, "10.10.10.186", server_id="10.10.10.1")
    prints.on_dhcp(0.0, "0.0.0.0", request)
    prints.on_dhcp(0.0, "10.10.10.1", ack)
    assert prints.bindings() == {mac: "10.10.10.186"}
    assert prints.services("10.10.10.1") == ["67/udp dhcp"]
    assert facts(prints.evidence("10.10.10.186", mac), "hostname") == {"cam-7"}
    assert prints.evidence("10.10.10.186", mac, mac_trusted=False) == []


# -- resolution, inventory, device book -----------------------------------------------------------
def test_inventory_wins_and_conflicts_are_recorded() -> None:
    ev = [
        DeviceFact("vendor", "hikvision", "MAC OUI 44:19:B6 (IEEE registry)", "high"),
        DeviceFact("vendor", "hikvision", "Hikvision SADP reply", "high"),
        DeviceFact("vendor", "dahua", "HTTP Server header", "medium"),
        DeviceFact("role", "camera", "serves RTSP to 1 client", "medium"),
    ]
    dev = DeviceSummary(ip="10.0.0.11")
    apply_facts(dev, ev, DeviceEntry(ip="10.0.0.11", vendor="axis", name="cam-1"))
    assert (dev.vendor, dev.role) == ("axis", "camera")
    (conflict,) = dev.conflicts
    assert (conflict.fact, conflict.inventory, conflict.observed) == ("vendor", "axis", "hikvision")
    assert "MAC OUI 44:19:B6" in conflict.source and conflict.confidence == "high"
    assert dev.evidence[0] == DeviceFact("vendor", "axis", "site inventory", "declared")
    dev = DeviceSummary(ip="10.0.0.11")
    apply_facts(dev, ev, None)
    assert (dev.vendor, dev.conflicts) == ("hikvision", [])


def test_role_ties_prefer_recorder_and_no_evidence_means_none() -> None:
    ev = [
        DeviceFact("role", "infrastructure", "answers NTP (123)", "medium"),
        DeviceFact("role", "recorder", "pulls RTSP from 2 devices", "medium"),
    ]
    assert resolve(ev, "role")[0] == "recorder"  # type: ignore[index]
    assert resolve(ev, "vendor") is None


def test_book_refresh_is_incremental_and_labels_stay_put() -> None:
    policy = default_policy()
    book = DeviceBook(policy, CATALOG)
    prints = Fingerprinter(CATALOG)
    book.learn_mac("10.0.0.15", "38:54:f5:6e:01:15")  # AltoBeam: no catalogued vendor
    assert book.labels("10.0.0.15") == ("10.0.0.15", "unknown")
    prints.on_discovery(0.0, "10.0.0.15", DiscoveryInfo("xmeye", "xiongmai", "reply"))
    book.refresh(prints)
    assert book.devices["10.0.0.15"].vendor == "xiongmai"
    assert book.labels("10.0.0.15") == ("10.0.0.15", "unknown")  # a series keeps its labels
    assert book.role_counts() == {("xiongmai", "unknown"): 1}
    book.devices["10.0.0.15"].vendor = "edited"
    book.refresh(prints)  # nothing new: not resolved again
    assert book.devices["10.0.0.15"].vendor == "edited"


def test_a_mac_shared_by_many_addresses_is_a_routers() -> None:
    book = DeviceBook(default_policy(), CATALOG)
    prints = Fingerprinter(CATALOG)
    for n in range(1, 7):
        book.learn_mac(f"192.168.9.{n}", "44:19:b6:00:00:01")
    book.learn_mac("192.168.9.100", "44:19:b6:00:00:02")
    book.refresh(prints)
    assert book.devices["192.168.9.1"].vendor is None
    assert book.devices["192.168.9.100"].vendor == "hikvision"


def test_layer2_discovery_joins_by_mac_and_creates_the_device() -> None:
    policy = Policy("t", (ipaddress.ip_network("10.20.0.0/16"),))
    book = DeviceBook(policy, CATALOG)
    prints = Fingerprinter(CATALOG)
    info = DiscoveryInfo("sadp", "hikvision", "reply", serial="DS-7616NI-K220230601CCWRG1234",
                         mac="24:48:45:3a:10:02", ipv4="10.20.0.2")  # fmt: skip
    prints.on_discovery(0.0, "24:48:45:3a:10:02", info)
    book.refresh(prints)
    dev = book.devices["10.20.0.2"]
    assert (dev.mac, dev.vendor, dev.model, dev.role) == (
        "24:48:45:3a:10:02",
        "hikvision",
        "DS-7616NI-K2",
        "recorder",
    )


def test_inspector_arms_the_discovery_limit_only_for_identifying_datagrams() -> None:
    assert not identifies_sender(DiscoveryInfo("ssdp", None, "probe"))
    assert not identifies_sender(DiscoveryInfo("ssdp", None, "announce", name="uuid:1"))
    assert identifies_sender(DiscoveryInfo("ssdp", None, "announce", extra=(("server", "x"),)))
    seen: list[str] = []
    inspector = Inspector(CATALOG, NameCache(), on_discovery=lambda ts, s, i: seen.append(i.kind))
    search = b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n\r\n'
    notify = (
        b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\n"
        b"NTS: ssdp:alive\r\nSERVER: Linux, UPnP/1.0 DCS-935L/1.0\r\nUSN: uuid:1\r\n\r\n"
    )
    f = flow("10.0.0.37", "239.255.255.250", 1900, IPPROTO_UDP)
    later = DISCOVERY_INTERVAL + 100.0
    for ts, payload in ((0.0, search), (1.0, notify), (2.0, notify), (later, notify)):
        inspector.inspect(f, payload, ts, True, 50000, 1900)
    assert seen == ["probe", "announce", "announce"]  # the repeat at 2 s waits the interval


def test_every_new_sender_reaches_the_fingerprinter() -> None:
    """Beyond 16,384 senders the inspector used to keep announcements to itself."""
    senders: set[str] = set()
    inspector = Inspector(CATALOG, NameCache(), on_discovery=lambda ts, s, i: senders.add(s))
    notify = (
        b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\n"
        b"NTS: ssdp:alive\r\nSERVER: Linux, UPnP/1.0 DCS-935L/1.0\r\nUSN: uuid:1\r\n\r\n"
    )
    for n in range(20_000):
        f = flow(f"10.1.{n >> 8}.{n & 255}", "239.255.255.250", 1900, IPPROTO_UDP)
        inspector.inspect(f, notify, 0.0, True, 1900, 1900)
    assert len(senders) == 20_000


def test_discovery_memo_keeps_searches_not_announcements() -> None:
    """Announcements are rate-limited per sender; keeping them grew memory with the file."""
    insp = Inspector(CATALOG, NameCache())
    search = (
        b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
        b'MAN: "ssdp:discover"\r\nMX: 2\r\nST: ssdp:all\r\n\r\n'
    )
    notify = (
        b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
        b"LOCATION: http://10.20.1.11:80/desc.xml\r\nSERVER: Linux/3.0 UPnP/1.0 Hikvision\r\n"
        b"NT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nUSN: uuid:1::upnp:rootdevice\r\n\r\n"
    )
    found = insp._discovery(1900, search), insp._discovery(1900, notify)
    assert found[0] is not None and not identifies_sender(found[0])
    assert found[1] is not None and identifies_sender(found[1])
    assert list(insp._discovery_memo) == [(1900, search)]
    assert insp._discovery(1900, search) is found[0]  # the memo answers the repeat


def test_discovery_limit_keeps_message_types_apart() -> None:
    """A NOTIFY and a search reply carry different facts: both are read within the interval."""
    seen: list[str] = []
    inspector = Inspector(CATALOG, NameCache(), on_discovery=lambda ts, s, i: seen.append(i.kind))
    notify = (
        b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\n"
        b"NTS: ssdp:alive\r\nSERVER: Linux, UPnP/1.0 DCS-935L/1.0\r\nUSN: uuid:1\r\n\r\n"
    )
    reply = (
        b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nUSN: uuid:1\r\n"
        b"SERVER: Linux/3.0, UPnP/1.0\r\nLOCATION: http://10.0.0.37/d.xml\r\n\r\n"
    )
    f = flow("10.0.0.37", "239.255.255.250", 1900, IPPROTO_UDP)
    for ts, payload in ((1.0, notify), (5.0, reply), (9.0, notify), (12.0, reply)):
        inspector.inspect(f, payload, ts, True, 1900, 1900)
    assert seen == ["announce", "reply"]
