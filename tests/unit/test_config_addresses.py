"""``devices[].addresses``: a host's further addresses (IPv6 beside IPv4, ...) in the inventory.

They make the entry the host's wherever it is seen (name label, one report device); every
mistake is an error naming the file, line and key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import describe_policy, load_policy
from monitor.model import ConfigError

HEAD = "site: s\nclosed_networks: [10.20.0.0/16, 'fd20::/64']\ndevices:\n"


def write(tmp_path: Path, devices: str) -> str:
    path = tmp_path / "site.yaml"
    path.write_text(HEAD + devices)
    return str(path)


def test_an_entrys_addresses_are_its_own(tmp_path: Path) -> None:
    path = write(tmp_path, "  - {ip: 10.20.1.11, addresses: ['fd20::11', 'fd20::a11'], name: cam}\n"
                           "  - {cidr: 10.20.1.0/24, role: camera}\n")  # fmt: skip
    policy = load_policy(path)
    entry = policy.devices[0]
    assert entry.addresses == ("fd20::11", "fd20::a11")
    for addr in ("10.20.1.11", "fd20::11", "fd20::a11"):
        assert policy.device_for(addr) is entry
    assert policy.device_for("10.20.1.12") is policy.devices[1]
    assert "addresses=fd20::11,fd20::a11" in describe_policy(policy)


BAD = [
    ("  - {ip: 10.20.1.11, addresses: 'fd20::11'}\n", 4, "devices[0].addresses", "must be a list"),
    ("  - {ip: 10.20.1.11, addresses: ['fd20::/64']}\n", 4, "devices[0].addresses[0]",
     "use 'cidr' for a network"),
    ("  - {ip: 10.20.1.11, addresses: [10.20.1.300]}\n", 4, "devices[0].addresses[0]",
     "is not an IP address"),
    ("  - {ip: 10.20.1.11, addresses: [10.20.1.11]}\n", 4, "devices[0].addresses[0]",
     "is the entry's own ip"),
    ("  - {ip: 10.20.1.11,\n     addresses: ['fd20::11', 'fd20::11']}\n", 5,
     "devices[0].addresses[1]", "fd20::11 repeats devices[0].addresses[0]"),
    ("  - {ip: 10.20.1.11, addresses: [192.168.1.11]}\n", 4, "devices[0].addresses[0]",
     "192.168.1.11 is outside closed_networks"),
    ("  - {cidr: 10.20.1.0/24, addresses: ['fd20::11']}\n", 4, "devices[0].addresses",
     "addresses belong to one host: use them with 'ip'"),
    ("  - {ip: 10.20.1.11, addresses: ['fd20::11']}\n"
     "  - {ip: 10.20.1.12, addresses: ['fd20::11']}\n", 5, "devices[1].addresses[0]",
     "fd20::11 is already defined by devices[0].addresses[0] (line 4)"),
    ("  - {ip: 10.20.1.11}\n  - {ip: 10.20.1.12, addresses: [10.20.1.11]}\n", 5,
     "devices[1].addresses[0]", "10.20.1.11 is already defined by devices[0].ip (line 4)"),
    ("  - {ip: 10.20.1.11, addresses: ['fd20::11']}\n  - {ip: 'fd20::11'}\n", 5, "devices[1].ip",
     "fd20::11 is already defined by devices[0].addresses[0] (line 4)"),
    ("  - {ip: 10.20.1.11, adresses: ['fd20::11']}\n", 4, "devices[0].adresses",
     "did you mean 'addresses'?"),
]  # fmt: skip


@pytest.mark.parametrize(("devices", "line", "key", "fragment"), BAD)
def test_errors_name_file_line_and_key(
    tmp_path: Path, devices: str, line: int, key: str, fragment: str
) -> None:
    path = write(tmp_path, devices)
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    lines = str(err.value).splitlines()
    assert any(ln.startswith(f"{path}:{line}: {key}: ") and fragment in ln for ln in lines), lines
