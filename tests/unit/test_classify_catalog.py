"""The shipped vendor catalog: provenance, lookups and reproducibility from the shared facts."""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from monitor.classify.catalog import (
    SCHEMA,
    Endpoint,
    VendorCatalog,
    _shipped_doc,
    load_catalog,
    render_catalog,
    render_catalog_json,
)
from tests.requirements import require_shared

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cat() -> VendorCatalog:
    return load_catalog()


def _name(ep: Endpoint | None) -> str | None:
    return ep.name if ep else None


# -- names -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "endpoint"),
    [
        ("hik-connect.com", "hik-connect"),
        ("litedev.hik-connect.com", "hik-connect"),
        ("a.b.c.hik-connect.com", "hik-connect"),
        ("evilhik-connect.com", None),  # not on a label boundary
        ("hik-connect.com.evil.net", None),
        ("LiteDev.HIK-Connect.COM.", "hik-connect"),  # case and trailing dot
        ("api.guardingvision.com", "guarding-vision"),  # longest suffix wins ...
        ("www.guardingvision.com", "ezviz-roots"),  # ... over the root entry
        ("eucas.ezvizlife.com", "ezviz-cas"),
        ("apiieu.ezvizlife.com", "ezviz-cloud"),
        ("www.easy4ipcloud.com", "dahua-p2p"),
        ("iotaccess.easy4ipcloud.com", "easy4ip-iot-access"),
        ("openapi.easy4ip.com", "imou-cloud"),
        ("www.easy4ip.com", "dahua-p2p"),
        ("pub-cfg.secu100.net", "xmeye-cloud"),
        ("logsvr.xmcsrv.net", "xmeye-telemetry"),
        ("p2p7.reolink.com", "reolink-p2p"),
        ("p2p12.reolink.com", "reolink-cloud"),
        ("signaling.prod.webrtc.connect.axis.com", "axis-connect"),
        ("www.axis.com", "axis-web"),
        ("turn.prod.wra1.wisenetcloud.com", "wisenet-p2p"),
        ("n-devs.tplinkcloud.com", "tplink-cloud"),
        ("esd.icloseli.com", "closeli-cloud"),
        ("com", None),
        ("", None),
        ("example.org", None),
    ],
)  # fmt: skip
def test_match_name(cat: VendorCatalog, name: str, endpoint: str | None) -> None:
    assert _name(cat.match_name(name)) == endpoint
    assert _name(cat.match_name(name)) == endpoint  # from the cache


def test_match_name_gives_vendor_and_brand(cat: VendorCatalog) -> None:
    ep = cat.match_name("vtmtxeu.ezvizlife.com")
    assert ep is not None and (ep.vendor, ep.brand, ep.name) == ("hikvision", "ezviz", "ezviz-vtm")
    ep = cat.match_name("p2p.amcrestview.com")
    assert ep is not None and (ep.vendor, ep.brand) == ("dahua", "amcrest")


# -- OUIs ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mac", "vendor"),
    [
        ("44:19:B6:00:00:01", "hikvision"), ("4c:bd:8f:12:34:56", "hikvision"),
        ("BC-AD-28-AB-CD-EF", "hikvision"), ("bcad.28ab.cdef", "hikvision"),
        ("3C:EF:8C:00:00:00", "dahua"), ("e0508b010203", "dahua"),
        ("0C:A6:4C:00:00:01", "hikvision"),  # EZVIZ registration, a Hikvision brand
        ("1C:4D:89:00:00:01", "dahua"),  # Imou/Huacheng
        ("34:46:63:2A:BC:DE", "dahua"),  # Amcrest MA-M 34:46:63:2/28
        ("34:46:63:3A:BC:DE", None),  # same /24, outside the /28
        ("00:50:C2:B0:4F:FF", "ubiquiti"),  # MA-S 00:50:C2:B0:4/36
        ("00:50:C2:B0:5F:FF", None),
        ("00:40:8C:11:22:33", "axis"), ("00:1F:54:00:00:00", "lorex"),
        ("EC:71:DB:00:00:00", "reolink"), ("00:09:18:00:00:00", "hanwha"),
        ("00:00:00:00:00:00", None), ("not a mac", None), ("44:19:B6", None),
    ],
)  # fmt: skip
def test_vendor_for_mac(cat: VendorCatalog, mac: str, vendor: str | None) -> None:
    assert cat.vendor_for_mac(mac) == vendor


def test_vendor_for_mac_bytes(cat: VendorCatalog) -> None:
    assert cat.vendor_for_mac(bytes.fromhex("4419b6000001")) == "hikvision"
    assert cat.vendor_for_mac(b"\x00\x01") is None


# notes.md §1.8: prefix counts per registrant group (vendor, brand)
OUI_COUNTS = [
    ("hikvision", "hikvision", 86), ("hikvision", "ezviz", 15), ("dahua", "dahua", 33),
    ("dahua", "imou", 5), ("dahua", "amcrest", 4), ("uniview", "uniview", 4), ("axis", "axis", 4),
    ("hanwha", "hanwha", 4), ("reolink", "reolink", 1), ("lorex", "lorex", 1),
    ("tiandy", "tiandy", 2), ("ubiquiti", "ubiquiti", 49), ("tplink", "tplink", 263),
    ("huawei", "huawei", 2048),
]  # fmt: skip


@pytest.mark.parametrize(("vendor", "brand", "count"), OUI_COUNTS)
def test_oui_counts_follow_the_notes(
    cat: VendorCatalog, vendor: str, brand: str, count: int
) -> None:
    assert cat.oui_counts(vendor)[brand] == count


def test_no_prefix_belongs_to_two_vendors(cat: VendorCatalog) -> None:
    seen: dict[str, str] = {}
    for vid, v in cat.doc["vendors"].items():
        for block in v["ouis"]:
            for prefix in block["prefixes"].split():
                assert seen.setdefault(prefix, vid) == vid, prefix
    assert cat.doc["vendors"]["xiongmai"]["ouis"] == []  # no IEEE registration


# -- signatures, ports, addresses --------------------------------------------------------------
def test_dahua_p2p_signatures(cat: VendorCatalog) -> None:
    punch = bytes.fromhex("fffeffe7") + bytes(40)
    assert _name(cat.match_signature("udp", 8800, punch)) == "dahua-p2p"
    assert _name(cat.match_signature("udp", 41234, punch)) == "dahua-p2p"  # any port
    assert cat.match_signature("udp", 8800, punch + b"x") is None  # 44 bytes exactly
    assert cat.match_signature("tcp", 8800, punch) is None
    rendezvous = b"DHGET /probe/p2psrv HTTP/1.1\r\nCSeq: 1\r\n\r\n"
    assert _name(cat.match_signature("udp", 8800, rendezvous)) == "dahua-p2p"
    assert _name(cat.match_signature("udp", 8800, b"DHPOST /device/X/p2p-channel HTTP/1.1")) == (
        "dahua-p2p"
    )
    assert cat.match_signature("udp", 8800, b"GET / HTTP/1.1\r\n") is None


def test_other_signatures(cat: VendorCatalog) -> None:
    assert _name(cat.match_signature("udp", 32100, bytes.fromhex("f1000000"))) == "pppp-p2p"
    lan_search = bytes.fromhex("f1300000")
    assert _name(cat.match_signature("udp", 32108, lan_search)) == "pppp-p2p"
    assert cat.match_signature("udp", 9999, lan_search) is None  # LanSearch is port-bound
    baichuan = bytes.fromhex("f0debc0a") + bytes(20)
    assert _name(cat.match_signature("tcp", 9000, baichuan)) == "reolink-baichuan"
    assert cat.match_signature("udp", 9000, b"") is None


@pytest.mark.parametrize(
    ("proto", "port", "endpoint"),
    [
        ("tcp", 7660, "hikvision-isup"), ("udp", 7660, "hikvision-isup"),
        ("udp", 6000, "ezviz-p2p"), ("tcp", 6500, "ezviz-cas"),
        ("tcp", 34567, "xmeye-dvrip"), ("udp", 34568, "xmeye-dvrip"),
        ("tcp", 6000, None), ("udp", 8800, None), ("tcp", 554, None), ("tcp", 443, None),
        ("udp", 9999, None), ("tcp", 8554, None), ("tcp", 7662, None),
    ],
)  # fmt: skip
def test_match_port(cat: VendorCatalog, proto: str, port: int, endpoint: str | None) -> None:
    assert _name(cat.match_port(proto, port)) == endpoint


def test_match_address(cat: VendorCatalog) -> None:
    assert _name(cat.match_address("120.92.92.241")) == "xmeye-update"
    assert _name(cat.match_address("3.126.12.232")) == "xmeye-cloud"
    assert _name(cat.match_address("::ffff:148.153.39.254")) == "ezviz-vtm"
    assert cat.match_address("8.8.8.8") is None
    assert cat.match_address("garbage") is None


def test_resolvers_and_doh(cat: VendorCatalog) -> None:
    for ip in ("8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "114.114.114.114",
               "208.67.222.222", "2001:4860:4860::8888",
               "2001:4860:4860:0:0:0:0:8844"):  # fmt: skip
        assert cat.is_public_resolver(ip), ip
    assert cat.resolver_operator("114.114.114.114") == "114dns"
    assert not cat.is_public_resolver("10.20.0.53") and not cat.is_public_resolver("x")
    for name in ("dns.google", "cloudflare-dns.com", "mozilla.cloudflare-dns.com.",
                 "DNS.QUAD9.NET", "doh.opendns.com"):  # fmt: skip
        assert cat.is_doh_name(name), name
    assert not cat.is_doh_name("google.com") and not cat.is_doh_name("notdns.google.evil")


@pytest.mark.parametrize(
    ("text", "vendor"),
    [
        ("App-webs/", "hikvision"), ("DNVRS-Webs", "hikvision"),
        ('Digest realm="Hikvision", nonce="abc"', "hikvision"),
        ('Basic realm="hikvision"', "hikvision"),
        ("C=CN,ST=ZheJiang,L=HangZhou,O=HIKVISION,OU=DVRNVR,CN=www.hikvision.com", "hikvision"),
        ("Dahua Rtsp Server/3.0", "dahua"), ("uc-httpd 1.0.0", "xiongmai"),
        ("H264DVR 1.0", "xiongmai"), ('Digest realm="Login to ND0123456"', "lorex"),
        ('Basic realm="TP-LINK IP-Camera"', "tplink"),
        ("Linux/4.9.0-axis1, UPnP/1.0, Portable SDK for UPnP devices/1.6.22", "axis"),
        ("CN=axis-accc8e012345,O=Axis Communications AB", "axis"),
        ("nginx/1.24.0", None), ("Webs", None), ("", None),
    ],
)  # fmt: skip
def test_vendor_for_banner(cat: VendorCatalog, text: str, vendor: str | None) -> None:
    assert cat.vendor_for_banner(text) == vendor


# -- provenance and shape ----------------------------------------------------------------------
def test_every_entry_has_source_and_confidence(cat: VendorCatalog) -> None:
    levels = set(cat.doc["confidence_levels"])
    assert levels == {"documented", "observed", "inferred"}
    assert cat.endpoints
    for ep in cat.endpoints:
        assert ep.source and all(s.strip() for s in ep.source), ep.name
        assert ep.confidence in levels, ep.name
    for v in cat.doc["vendors"].values():
        for item in v["banners"] + v["ouis"]:
            assert item["source"] and item["confidence"] in levels
    for item in cat.doc["public_resolvers"] + cat.doc["doh_names"]:
        assert item["source"] and item["confidence"] in levels


def test_ids_are_lower_case_and_label_safe(cat: VendorCatalog) -> None:
    label = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
    assert all(label.match(v) for v in cat.vendors)
    names = [ep.name for ep in cat.endpoints]
    assert len(names) == len(set(names))
    for ep in cat.endpoints:
        assert label.match(ep.name) and ep.vendor in cat.vendors
        assert ep.brand in cat.doc["vendors"][ep.vendor]["brands"]
        assert all(d == d.lower() and not d.startswith("*") for d in ep.domains)
        assert ep.domains or ep.addresses or ep.ports or ep.signatures


def test_sub_brands_are_not_vendors(cat: VendorCatalog) -> None:
    for brand in ("ezviz", "hik-connect", "guarding-vision", "hilook", "imou", "amcrest",
                  "lechange", "easy4ip", "kbvision", "xmeye", "icsee", "sofia"):  # fmt: skip
        assert brand not in cat.vendors
    assert {"hikvision", "dahua", "xiongmai", "axis", "hanwha", "uniview", "reolink", "tplink",
            "ubiquiti", "huawei", "tiandy", "lorex", "generic"} <= set(cat.vendors)  # fmt: skip
    assert {ep.vendor for ep in cat.endpoints if ep.brand == "ezviz"} == {"hikvision"}
    assert {ep.vendor for ep in cat.endpoints if ep.brand in ("imou", "amcrest")} == {"dahua"}


def test_version_and_schema(cat: VendorCatalog) -> None:
    assert cat.schema == SCHEMA == "cctv-monitor/catalog/v1"
    assert cat.version == cat.doc["generated_from"]["catalog"]["generated"]
    assert cat.endpoint("dahua-p2p") is cat.match_name("www.easy4ipcloud.com")
    assert cat.endpoint("hik-connect").to_json()["vendor"] == "hikvision"  # type: ignore[union-attr]


def test_load_catalog_from_path_and_bad_schema(tmp_path: Path, cat: VendorCatalog) -> None:
    copy = tmp_path / "c.yaml"
    copy.write_text(yaml.safe_dump(cat.doc), encoding="utf-8")
    assert len(load_catalog(str(copy)).endpoints) == len(cat.endpoints)
    copy.write_text("schema: something-else\n", encoding="utf-8")
    with pytest.raises(Exception, match="not a cctv-monitor/catalog/v1"):
        load_catalog(str(copy))


def test_shipped_file_loads_with_libyaml(cat: VendorCatalog) -> None:
    """Parsed as ``load_catalog(path)`` parses YAML (libyaml when PyYAML has it), the shipped
    file gives the shipped catalog. Its load time is measured by bench/catalog_load.py."""
    raw = importlib.resources.files("monitor").joinpath("data/catalog.yaml").read_bytes()
    loaded = VendorCatalog(yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    assert loaded.doc == cat.doc
    assert len(loaded.endpoints) == len(cat.endpoints)


def test_render(cat: VendorCatalog) -> None:
    text = render_catalog(cat)
    assert text.startswith("cctv-monitor vendor catalog cctv-monitor/catalog/v1")
    expected = ("== hikvision: Hikvision ==", "endpoint hik-connect", "domains: hik-connect.com",
                "ports: 7660/tcp, 7660/udp", "udp/any fffeffe7 len 44", "OUI prefixes: 101",
                "source: github.com/khoanguyen-3fc/dh-p2p", "== generic:", "8.8.8.8")  # fmt: skip
    for fragment in expected:
        assert fragment in text, fragment
    doc = render_catalog_json(cat)
    assert doc["schema"] == SCHEMA and "hikvision" in doc["vendors"]
    assert json.loads(json.dumps(doc)) == doc
    doc["vendors"].clear()  # a copy: the catalog itself is untouched
    assert cat.doc["vendors"]


# -- the builder -------------------------------------------------------------------------------
def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_catalog", REPO / "tools" / "build_catalog.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rebuild_reproduces_the_shipped_file() -> None:
    facts = require_shared("reference/vendors")
    catalog, manuf = require_shared(facts / "catalog.yaml"), require_shared(facts / "manuf.txt")
    built = _builder().build(catalog, manuf)
    shipped = importlib.resources.files("monitor").joinpath("data/catalog.yaml").read_bytes()
    assert built.encode("utf-8") == shipped, "run: python tools/build_catalog.py"


def test_builder_checks_its_curation() -> None:
    builder = _builder()
    facts = require_shared("reference/vendors")
    data = yaml.safe_load(require_shared(facts / "catalog.yaml").read_text(encoding="utf-8"))
    with pytest.raises(builder.BuildError, match="no fact matches"):
        builder.find_fact(data, "hikvision/domains#no-such.example")
    ep = builder.build_endpoint(data, builder.ENDPOINTS[0])
    with pytest.raises(builder.BuildError, match="claimed by"):
        builder.check_endpoints([ep, {**ep, "name": "copy"}])
    data["vendors"]["axis"]["ouis"]["axis"]["count"] = 5
    with pytest.raises(builder.BuildError, match="axis/axis"):
        builder.build_ouis(data, builder.read_manuf(require_shared(facts / "manuf.txt")))


# -- the JSON twin of the shipped file ---------------------------------------------------------
def test_json_twin_is_current() -> None:
    shipped = importlib.resources.files("monitor").joinpath("data/catalog.yaml")
    module = REPO / "monitor" / "classify" / "catalog_json.py"
    expected = _builder().data_module(shipped.read_text(encoding="utf-8"))
    assert module.read_text(encoding="utf-8") == expected, (
        "run: python tools/build_catalog.py --module-only"
    )


def test_json_twin_holds_exactly_the_yaml_document() -> None:
    raw = importlib.resources.files("monitor").joinpath("data/catalog.yaml").read_bytes()
    from_json = _shipped_doc(raw)
    from_yaml = yaml.safe_load(raw)
    assert repr(from_json) == repr(from_yaml)  # same keys, order, types and values


def test_edited_yaml_wins_over_a_stale_json_twin() -> None:
    raw = importlib.resources.files("monitor").joinpath("data/catalog.yaml").read_bytes()
    edited = raw.replace(b"version: '2026-11-21'", b"version: 'edited'")
    assert edited != raw
    assert _shipped_doc(edited)["version"] == "edited"
