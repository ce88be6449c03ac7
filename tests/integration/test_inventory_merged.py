"""`cctv-monitor inventory` writes one entry per device, a host's several addresses in it,
and names the silent hosts (only ever destinations) without listing them as devices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.config import load_policy
from tests.integration.test_inventory_cmd import findings, run_cli
from tests.integration.test_sample_captures import replay_json
from tests.requirements import require_shared

pytestmark = [pytest.mark.realpcaps]
DLINK = "iotsentinel_dlink-dcs935l-cam_setup-A-1.pcap"
MDNS = "zeek_mdns.pcap"


def skeleton(tmp_path: Path, name: str) -> tuple[Path, str, str]:
    pcap = str(require_shared(Path("pcaps-real") / name))
    status, text = run_cli("inventory", pcap, "--site", "lab")
    assert status == 0
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return path, text, pcap


def test_the_dlink_camera_is_one_entry_with_both_addresses(tmp_path: Path) -> None:
    path, text, pcap = skeleton(tmp_path, DLINK)
    policy = load_policy(str(path))
    cam = policy.device_for("10.10.10.37")
    assert cam is not None and (cam.ip, cam.addresses) == ("10.10.10.37", ("192.168.0.20",))
    assert policy.device_for("192.168.0.20") is cam
    assert (cam.vendor, cam.role, cam.model, cam.mac) == (
        "dlink", "camera", "DCS-935L", "b0:c5:54:25:5b:0e"
    )  # fmt: skip
    assert len([d for d in policy.devices if d.ip]) == 3  # gateway, phone, camera
    # the camera's boot-time resolver: never a device, but a DNS service it was asked as
    assert policy.device_for("192.168.0.1") is None
    assert "#   192.168.0.1: 2 packets to it" in text
    assert [str(n.network_address) for n in policy.services.dns] == ["10.10.10.1", "192.168.0.1"]
    _, default = replay_json(pcap)
    _, generated = replay_json(pcap, "--config", str(path))
    assert findings(generated) == findings(default)
    devices = {d["ip"]: d for d in generated["devices"]}
    assert devices["10.10.10.37"]["addresses"] == ["10.10.10.37", "192.168.0.20"]
    assert devices["10.10.10.37"]["name"] == cam.name


def test_a_hosts_ipv6_addresses_go_with_its_ipv4_one(tmp_path: Path) -> None:
    path, _, pcap = skeleton(tmp_path, MDNS)
    policy = load_policy(str(path))
    host = policy.device_for("10.0.2.7")
    assert host is not None and host.addresses == (
        "fd52:429e:c03c:8235:883c:d6ff:fee1:4dc4", "fe80::883c:d6ff:fee1:4dc4",
    )  # fmt: skip
    assert [d.cidr for d in policy.devices if d.cidr] == ["fe80::/10"]
    _, default = replay_json(pcap)
    _, generated = replay_json(pcap, "--config", str(path))
    assert findings(generated) == findings(default)
    assert [(d["ip"], len(d["addresses"])) for d in generated["devices"]] == [("10.0.2.7", 3)]
    assert json.dumps(generated["silent_hosts"]) == "[]"
