"""On real captures: the IoT SENTINEL cameras are recognised as cameras of their vendor from
their traffic alone, and no host of any other real capture is called a camera."""

from __future__ import annotations

from functools import cache

import pytest

from monitor.classify.catalog import load_catalog
from monitor.config import default_policy
from monitor.model import DeviceSummary
from monitor.replay import run_replay
from tests.integration.test_real_captures_read import FILES, real

pytestmark = [pytest.mark.realpcaps]
# capture -> (camera MAC, vendor, model or None): what IoT SENTINEL recorded, per its labels.
CAMERAS = {
    "iotsentinel_dlink-dcs930l-daycam_setup-A-1.pcap": ("b0:c5:54:1c:71:85", "dlink", "DCS-930LB"),
    "iotsentinel_dlink-dcs935l-cam_setup-A-1.pcap": ("b0:c5:54:25:5b:0e", "dlink", "DCS-935L"),
    "iotsentinel_edimax-cam1_setup-A-1.pcap": ("74:da:38:80:7a:08", "edimax", "IC-3115W"),
    "iotsentinel_ednet-cam1_setup-A-1.pcap": ("3c:49:37:03:17:db", "ednet", None),
}
# The Blink camera (tj-oconnor) is a camera too: whatever is said about it is no mistake.
OTHERS = [name for name in FILES if name not in CAMERAS and not name.startswith("tjoconnor_")]


@cache
def devices(name: str) -> tuple[DeviceSummary, ...]:
    run = run_replay([str(real(name))], default_policy(), load_catalog())
    return tuple(run.result.devices)


@pytest.mark.parametrize("name", sorted(CAMERAS))
def test_camera_is_recognised_with_its_vendor(name: str) -> None:
    mac, vendor, model = CAMERAS[name]
    mine = [d for d in devices(name) if d.mac == mac and ":" not in d.ip]
    assert mine, f"no IPv4 host with {mac}"
    for dev in mine:
        assert (dev.vendor, dev.role) == (vendor, "camera"), dev.ip
        assert dev.model == model, dev.ip
        assert any(e.fact == "role" and e.value == "camera" for e in dev.evidence)
    others = [d for d in devices(name) if d.mac != mac and d.role == "camera"]
    assert others == []


@pytest.mark.parametrize("name", OTHERS)
def test_no_camera_in_other_captures(name: str) -> None:
    cameras = [(d.ip, d.vendor, [e.source for e in d.evidence]) for d in devices(name)]
    assert [c for c, dev in zip(cameras, devices(name), strict=True) if dev.role == "camera"] == []
