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
