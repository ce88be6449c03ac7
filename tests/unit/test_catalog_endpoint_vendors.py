"""An endpoint's vendor is the vendor that runs it: mydlink is D-Link's, not "generic"."""

from __future__ import annotations

from monitor.classify.catalog import load_catalog

CATALOG = load_catalog()


def test_mydlink_is_d_links() -> None:
    for name in ("signal.mydlink.com", "mp-eu-signal.auto.mydlink.com", "mydlink.com"):
        endpoint = CATALOG.match_name(name)
        assert endpoint is not None, name
        assert (endpoint.name, endpoint.vendor, endpoint.brand) == (
            "mydlink-cloud",
            "dlink",
            "mydlink",
        )
    assert CATALOG.doc["vendors"]["dlink"]["display_name"] == "D-Link"


def test_no_generic_endpoint_is_run_by_a_catalogued_vendor() -> None:
    vendors = CATALOG.doc["vendors"]
    brands = {
        str(b): vid for vid, v in vendors.items() if vid != "generic" for b in v["brands"]
    } | {vid: vid for vid in vendors if vid != "generic"}
    generic = [(e["name"], e["brand"]) for e in vendors["generic"]["endpoints"]]
    assert generic and [(n, b, brands[b]) for n, b in generic if b in brands] == []
    assert not set(vendors["generic"]["brands"]) & set(brands)


def test_every_endpoint_sits_under_its_own_vendor() -> None:
    for vid, vendor in CATALOG.doc["vendors"].items():
        for endpoint in vendor["endpoints"]:
            assert endpoint["vendor"] == vid, endpoint["name"]
            assert endpoint["brand"] in vendor["brands"], endpoint["name"]
