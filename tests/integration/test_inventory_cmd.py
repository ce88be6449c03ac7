"""`cctv-monitor inventory`: a site policy skeleton that check-config accepts unchanged and
that, used for the same captures, gives the same findings as the built-in default policy."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.commands.inventory_cmd import closed_networks, device_name
from monitor.config import load_policy
from monitor.model import DeviceSummary
from tests.integration.test_sample_captures import EXPECTED, PCAPS, replay_json


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(list(argv))
    return status, out.getvalue()


def findings(report: dict[str, Any]) -> list[str]:
    return sorted(json.dumps(f, sort_keys=True) for f in report["findings"])


@pytest.fixture(scope="module")
def skeletons(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name in EXPECTED:
        status, text = run_cli("inventory", str(PCAPS / name), "--site", "hansaplatz")
        assert status == 0
        path = tmp_path_factory.mktemp("inv") / f"{name}.yaml"
        path.write_text(text)
        out[name] = path
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_check_config_accepts_it_unchanged(name: str, skeletons: dict[str, Path]) -> None:
    status, text = run_cli("check-config", str(skeletons[name]))
    assert status == 0 and "site: hansaplatz" in text
    assert "warning" not in text


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_same_findings_as_the_default_policy(name: str, skeletons: dict[str, Path]) -> None:
    _, default = replay_json(str(PCAPS / name))
    _, generated = replay_json(str(PCAPS / name), "--config", str(skeletons[name]))
    assert findings(generated) == findings(default)
    assert generated["verdict"] == default["verdict"]


def test_the_clean_skeleton(skeletons: dict[str, Path]) -> None:
    text = skeletons["clean.pcap"].read_text()
    policy = load_policy(str(skeletons["clean.pcap"]))
    assert [str(n) for n in policy.closed_networks] == ["10.20.0.0/16"]
    by_ip = {d.ip: d for d in policy.devices}
    assert len(by_ip) == 11 and len({d.name for d in policy.devices}) == 11
    nvr, axis, ws = by_ip["10.20.0.2"], by_ip["10.20.1.14"], by_ip["10.20.0.50"]
    assert (nvr.name, nvr.vendor, nvr.model, nvr.role, nvr.mac) == (
        "hikvision-recorder-2",
        "hikvision",
        "DS-7616NI-K2",
        "recorder",
        "24:48:45:3a:10:02",
    )
    assert (axis.name, axis.vendor, axis.model, axis.role) == (
        "axis-00408c1a2b14",  # its DHCP host name
        "axis",
        "P3245-V",
        "camera",
    )
    assert (ws.name, ws.role, ws.vendor) == ("vms-ws01", "workstation", None)
    assert by_ip["10.20.1.13"].name == "cam-hansa-03"  # DHIP MachineName
    services = policy.services
    assert [str(n.network_address) for n in services.dns] == ["10.20.0.53"]
    assert [str(n.network_address) for n in services.ntp] == ["10.20.0.123"]
    assert [str(n.network_address) for n in services.dhcp] == ["10.20.0.1"]
    assert "#   vendor: Hikvision SADP reply (high)" in text  # evidence in the comments
    assert "# 10.20.0.2: hikvision recorder DS-7616NI-K2, firmware V4.30.085" in text


def test_unanswered_inside_resolvers_are_listed(skeletons: dict[str, Path]) -> None:
    policy = load_policy(str(skeletons["external_resolver.pcap"]))
    assert [str(n.network_address) for n in policy.services.dns] == ["10.20.0.53", "10.20.0.54"]


def test_skeleton_of_several_files_and_an_unreadable_one(tmp_path: Path) -> None:
    status, text = run_cli("inventory", str(PCAPS / "egress.pcap"), str(PCAPS / "inbound.pcap"))
    assert status == 0 and "in 2 capture files" in text
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture")
    assert run_cli("inventory", str(junk))[0] == 3
    assert run_cli("inventory", str(PCAPS / "clean.pcap"), "--site", "two words")[0] == 2


def test_closed_networks_cover_what_was_used() -> None:
    nets, special = closed_networks(
        ["10.20.0.2", "10.20.1.11", "192.168.1.13", "fd20::11", "169.254.3.4", "8.8.8.8"]
    )
    assert [str(n) for n in nets] == [
        "10.20.0.0/16",
        "169.254.0.0/16",
        "192.168.1.0/24",
        "fd20::/64",
    ]
    assert [str(n) for n in special] == ["169.254.0.0/16"]
    assert closed_networks([]) == ([], [])


def test_device_names_are_unique_slugs() -> None:
    taken: set[str] = set()
    a = DeviceSummary(ip="10.0.1.11", vendor="hikvision", role="camera")
    b = DeviceSummary(ip="10.0.2.11", vendor="hikvision", role="camera")
    c = DeviceSummary(ip="fd20::1b", hostname="Luca’s iMac (2)")
    d = DeviceSummary(ip="10.0.0.9")
    names = [device_name(x, taken) for x in (a, b, c, d)]
    assert names == ["hikvision-camera-11", "hikvision-camera-11-2", "luca-s-imac-2", "host-9"]
