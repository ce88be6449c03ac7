"""The policy's ``mirror`` section: extra UDP ports of VXLAN and Geneve mirror tunnels."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from monitor.config import MirrorPorts, default_policy, describe_policy, load_policy
from monitor.model import ConfigError

HEAD = """\
site: s
closed_networks: [10.20.0.0/16]
"""


def load(tmp_path: Path, body: str) -> object:
    path = tmp_path / "site.yaml"
    path.write_text(HEAD + textwrap.dedent(body), encoding="utf-8")
    return load_policy(str(path))


def test_extra_ports_and_ranges_are_read(tmp_path: Path) -> None:
    policy = load(tmp_path, "mirror: {vxlan_ports: [8472, 4790-4791], geneve_ports: [6082]}\n")
    assert policy.mirror == MirrorPorts(vxlan=(4790, 4791, 8472), geneve=(6082,))  # type: ignore[attr-defined]


def test_without_the_section_only_the_iana_ports_are_used(tmp_path: Path) -> None:
    assert load(tmp_path, "").mirror == MirrorPorts()  # type: ignore[attr-defined]
    assert default_policy().mirror == MirrorPorts()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            "mirror: {vxlan: [8472]}\n",
            "site.yaml:3: mirror.vxlan: unknown key (did you mean 'vxlan_ports'?)",
        ),
        (
            "mirror: {vxlan_ports: [0]}\n",
            "site.yaml:3: mirror.vxlan_ports[0]: '0' is not a port 1-65535",
        ),
        ("mirror: {geneve_ports: 6081}\n", "site.yaml:3: mirror.geneve_ports: must be a list"),
        ("mirror: [4789]\n", "site.yaml:3: mirror: mirror must be a mapping"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, body: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, body)
    assert fragment in str(info.value)


def test_check_config_says_which_tunnels_are_removed(tmp_path: Path) -> None:
    text = describe_policy(load(tmp_path, "mirror: {vxlan_ports: [8472]}\n"))  # type: ignore[arg-type]
    assert "VXLAN on UDP 4789, 8472; Geneve on UDP 6081" in text


def test_limits_are_read_and_default(tmp_path: Path) -> None:
    from monitor.config import Limits

    assert load(tmp_path, "").limits == Limits(1024, 256, 4096)  # type: ignore[attr-defined]
    got = load(tmp_path, "limits: {devices: 7, findings_per_device: 3, findings_per_kind: 9}\n")
    assert got.limits == Limits(devices=7, findings_per_device=3, findings_per_kind=9)  # type: ignore[attr-defined]
    text = describe_policy(got)  # type: ignore[arg-type]
    assert "limits: 7 devices besides the inventory, then 'other'" in text
    assert "3 findings per device and kind and 9 per kind" in text


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("limits: {devices: 0}\n", "site.yaml:3: limits.devices: '0' is not a whole number from 1"),
        ("limits: {devices: -4}\n", "limits.devices: '-4' is not a whole number from 1"),
        ("limits: {findings_per_kind: many}\n", "limits.findings_per_kind: 'many' is not a whole"),
        ("limits: {findings_per_device: 2.5}\n", "limits.findings_per_device: '2.5' is not a"),
        ("limits: {findings_per_device: '12'}\n", "limits.findings_per_device: '12' is not a"),
        ("limits: {device: 5}\n", "limits.device: unknown key (did you mean 'devices'?)"),
        ("limits: [5]\n", "site.yaml:3: limits: limits must be a mapping"),
    ],
)
def test_limit_errors_name_file_line_and_key(tmp_path: Path, body: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, body)
    assert fragment in str(info.value)


def test_limit_errors_are_reported_with_the_others(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "limits: {devices: 0, findings_per_kind: 0}\nmirror: {vxlan: [1]}\n")
    lines = str(info.value).splitlines()
    assert len(lines) == 3 and all("site.yaml:" in line for line in lines)


def test_a_limit_of_one_is_allowed(tmp_path: Path) -> None:
    from monitor.config import Limits

    got = load(tmp_path, "limits: {devices: 1, findings_per_device: 1, findings_per_kind: 1}\n")
    assert got.limits == Limits(1, 1, 1)  # type: ignore[attr-defined]
