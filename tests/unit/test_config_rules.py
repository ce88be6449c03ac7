"""Policy errors word for word: each names file, line and key, says what was found instead
("a mapping", "a list", "empty", the value) and gives an example where one helps.

test_config.py checks that each error kind is found; these pin the whole line a user reads,
the order of several errors, and the values that are right at a limit.
"""

from __future__ import annotations

import builtins
import ipaddress
from pathlib import Path

import pytest

from monitor.config import load_policy
from monitor.config import loader as loader_module
from monitor.config.policy import ROLES
from monitor.model import ConfigError
from tests.unit.test_config import ALLOW, DEV, H, errors_of, write

NET = ipaddress.ip_network
TOP_KEYS = list(loader_module._TOP_KEYS)  # site, closed_networks, ... (the keys may grow)
assert TOP_KEYS[:2] == ["site", "closed_networks"] and "devices" in TOP_KEYS

EXACT = [
    # (yaml, [(line, message after "file:line: "), ...])
    (H + "devices: {ip: 10.0.0.1}\n",
     [(3, "devices: must be a list, not a mapping (e.g. [{ip: 10.20.0.11}])")]),
    (H + "allow: {from: 10.0.0.1}\n",
     [(3, "allow: must be a list, not a mapping (e.g. [{from: A, to: B, ports: [554]}])")]),
    ("site: s\nclosed_networks: 10.0.0.0/8\n",
     [(2, "closed_networks: must be a list, not '10.0.0.0/8' (e.g. [10.20.0.0/16])")]),
    ("site: s\nclosed_networks: []\n", [(2, "closed_networks: must list at least one network")]),
    ("site: s\nclosed_networks:\n", [(2, "closed_networks: must be a list, not empty "
                                         "(e.g. [10.20.0.0/16])")]),
    (ALLOW + "  - {from: 10.0.0.1, to: 10.0.0.2, ports: 554}\n",
     [(4, "allow[0].ports: must be a list, not '554' (e.g. [554, 8000-8010])")]),
    (ALLOW + "  - {from: 10.0.0.1, to: 10.0.0.2, ports: [[554]]}\n",
     [(4, "allow[0].ports[0]: a list is not a port 1-65535 or a-b range")]),
    (ALLOW + "  - {from: 10.0.0.1, to: 10.0.0.2, ports: [rtsp]}\n",
     [(4, "allow[0].ports[0]: 'rtsp' is not a port 1-65535 or a-b range")]),
    (ALLOW + "  - {from: 10.0.0.1, to: 10.0.0.2, ports: [0]}\n",
     [(4, "allow[0].ports[0]: '0' is not a port 1-65535 or a-b range")]),
    (ALLOW + "  - {from: 10.0.0.1, to: 10.0.0.2, ports: [65536]}\n",
     [(4, "allow[0].ports[0]: '65536' is not a port 1-65535 or a-b range")]),
    (ALLOW + "  - 554\n", [(4, "allow[0]: an allow rule must be a mapping, not '554'")]),
    (ALLOW + "  - {from: 10.0.0.1, to: 'fd00::1'}\n",
     [(4, "allow[0]: 'from' and 'to' must be of the same IP version")]),
    (ALLOW + "  - {from: 10.0.0.1}\n", [(4, "allow[0]: missing required key 'to'")]),
    (ALLOW + "  - {from: 10.0.0.1, to: 10.0.0.256}\n",
     [(4, "allow[0].to: '10.0.0.256' is not an IP address")]),
    (ALLOW + "  - {from: 10.0.0.0/33, to: 10.0.0.2}\n",
     [(4, "allow[0].from: '10.0.0.0/33' is not a CIDR network")]),
    (ALLOW + "  - {from: 10.0.0.1, to: nowhere, ports: [554]}\n"
     "  - {from: 10.0.0.1, to: 10.0.0.2, proto: icmp}\n",
     [(4, "allow[0].to: 'nowhere' is not an IP address"),
      (5, "allow[1].proto: 'icmp' is not one of tcp, udp, any")]),
    (DEV + "  - 10.0.0.1\n", [(4, "devices[0]: a device must be a mapping, not '10.0.0.1'")]),
    (DEV + "  - {name: x}\n", [(4, "devices[0]: needs exactly one of 'ip' or 'cidr'")]),
    (DEV + "  - {cidr: 10.0.0.0/24, mac: 44-19-b6-00-00-01}\n",
     [(4, "devices[0].mac: a mac belongs to one host: use it with 'ip'")]),
    (DEV + "  - {ip: 10.0.0.1, ~: x}\n", [(4, "devices[0]: the keys of a device must be strings")]),
    (DEV + "  - {ip: 10.0.0.1, [a]: x}\n",
     [(4, "devices[0]: the keys of a device must be strings")]),
    (DEV + "  - {ip: 10.0.0.1, name: ~}\n",
     [(4, "devices[0].name: must be a non-empty string, not empty")]),
    (DEV + "  - {ip: 10.0.0.1, name: [a]}\n",
     [(4, "devices[0].name: must be a non-empty string, not a list")]),
    (DEV + "  - {ip: 10.0.0.1, name: '  '}\n",
     [(4, "devices[0].name: must be a non-empty string, not '  '")]),
    ("site: {a: 1}\nclosed_networks: [10.0.0.0/8]\n",
     [(1, "site: must be a non-empty string, not a mapping")]),
    ("site: '  '\nclosed_networks: [10.0.0.0/8]\n",
     [(1, "site: must be a non-empty string, not '  '")]),
    ("site: ~\nclosed_networks: [10.0.0.0/8]\n",
     [(1, "site: must be a non-empty string, not empty")]),
    ("site: a/b\nclosed_networks: [10.0.0.0/8]\n",
     [(1, "site: 'a/b' may only contain letters, digits and _ . : -")]),
    (DEV + "  - {ip: 10.0.0.1, vendor: Axis}\n",
     [(4, "devices[0].vendor: 'Axis' must be a lower-case id like 'axis'")]),
    (DEV + "  - {ip: 10.0.0.1, role: cam}\n",
     [(4, f"devices[0].role: 'cam' is not one of {', '.join(ROLES)}")]),
    (H + "services: [10.0.0.53]\n", [(3, "services: services must be a mapping, not a list")]),
    (H + "colour: blue\n",
     [(3, f"colour: unknown key (allowed: {', '.join(TOP_KEYS)})")]),
    # two errors on one line: in the order the checks found them, not sorted by text
    (DEV + "  - {ip: 192.168.0.9, vendor: Axis}\n",
     [(4, "devices[0].vendor: 'Axis' must be a lower-case id like 'axis'"),
      (4, "devices[0].ip: 192.168.0.9 is outside closed_networks")]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), EXACT, ids=[str(i) for i in range(len(EXACT))])
def test_error_lines_word_for_word(
    tmp_path: Path, text: str, expected: list[tuple[int, str]]
) -> None:
    path = write(tmp_path, text)
    assert errors_of(path) == [f"{path}:{line}: {msg}" for line, msg in expected]


def test_a_dotted_mac_is_normalised(tmp_path: Path) -> None:
    path = write(tmp_path, DEV + "  - {ip: 10.0.0.1, mac: C056.E300.0001}\n")
    assert load_policy(path).devices[0].mac == "c0:56:e3:00:00:01"


def test_ports_at_the_limits_and_rules_keep_their_protocol(tmp_path: Path) -> None:
    rule = "  - {from: 10.0.0.1, to: 10.0.0.2, ports: [1, 65535, 8000-8010], proto: UDP}\n"
    path = write(tmp_path, ALLOW + rule)
    (rule,) = load_policy(path).allow
    assert rule.ports == ((1, 1), (65535, 65535), (8000, 8010))
    assert (rule.src, rule.dst, rule.proto) == (NET("10.0.0.1/32"), NET("10.0.0.2/32"), "udp")


def test_a_reader_error_names_the_file(tmp_path: Path) -> None:
    """A control character is refused by the YAML reader (no line mark)."""
    path = tmp_path / "site.yaml"
    path.write_bytes(b"site: s\x07\nclosed_networks: [10.0.0.0/8]\n")
    with pytest.raises(ConfigError) as info:
        load_policy(str(path))
    assert str(info.value).startswith(f"{path}: YAML error: ")


def test_the_policy_is_read_as_utf8_whatever_the_locale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a Latin-1 locale ``open()`` without an encoding would garble 'Süd'."""
    path = write(tmp_path, DEV + "  - {ip: 10.0.0.1, name: Kamera Süd}\n")

    def latin1_locale_open(file, mode="r", *args, encoding=None, **kwargs):  # type: ignore[no-untyped-def]
        if "b" not in mode and encoding is None:
            encoding = "latin-1"
        return builtins.open(file, mode, *args, encoding=encoding, **kwargs)

    monkeypatch.setattr(loader_module, "open", latin1_locale_open, raising=False)
    assert load_policy(path).devices[0].name == "Kamera Süd"
