"""Site policy loading (CONTRACT.md §2): good policies, every error kind, and the lookups."""

from __future__ import annotations

import ast
import ipaddress
import textwrap
from pathlib import Path

import pytest

from monitor import config
from monitor.config import (
    AllowRule,
    DeviceEntry,
    Policy,
    default_policy,
    describe_policy,
    load_policy,
)
from monitor.config import policy as policy_module
from monitor.model import ConfigError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "policies"
REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "site.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path)


def errors_of(path: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    return str(info.value).splitlines()


# -- good policies ---------------------------------------------------------------------------
def test_contract_example_loads() -> None:
    p = load_policy(str(FIXTURES / "hamburg-hansaplatz.yaml"))
    assert p.site == "hamburg-hansaplatz"
    assert p.closed_networks == (ipaddress.ip_network("10.20.0.0/16"),)
    assert [d.label for d in p.devices] == ["cam-hansa-01", "10.20.1.0/24", "nvr-1"]
    cam = p.devices[0]
    assert (cam.ip, cam.vendor, cam.model, cam.role) == (
        "10.20.0.11", "hikvision", "DS-2DF8225IX-AEL", "camera",
    )  # fmt: skip
    assert p.services.dns == (ipaddress.ip_network("10.20.0.53/32"),)
    assert p.allow == (
        AllowRule(
            src=ipaddress.ip_network("10.20.1.0/24"), dst=ipaddress.ip_network("10.20.0.2/32"),
            ports=((554, 554), (8000, 8000)), proto="any",
        ),
    )  # fmt: skip
    assert p.source.endswith("hamburg-hansaplatz.yaml")
    assert p.warnings == ()


def test_dual_stack_policy_keeps_raw_text_fields() -> None:
    p = load_policy(str(FIXTURES / "dual-stack-campus.yaml"))
    gate = p.device_for("172.16.40.130")
    assert gate is not None and gate.name == "cam-east-gate"
    assert gate.mac == "bc:ad:28:12:34:56"
    assert gate.firmware == "5.7.3" and gate.serial == "0123456789"  # not an int, leading 0 kept
    nvr = p.device_for("172.16.41.10")
    assert nvr is not None and nvr.mac == "e0:50:8b:00:00:10"
    assert len(p.services.vms) == 2 and p.has_services("syslog")


def test_minimal_policy() -> None:
    p = load_policy(str(FIXTURES / "minimal.yaml"))
    assert p.devices == () and p.allow == () and not p.has_services("dns")
    assert p.is_closed("192.168.1.77") and not p.is_closed("192.168.2.1")


def test_service_outside_closed_networks_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, """
        site: s
        closed_networks: [10.0.0.0/8]
        services:
          ntp: [10.0.0.1, 192.0.2.7]
    """)  # fmt: skip
    p = load_policy(path)
    assert len(p.warnings) == 1
    assert p.warnings[0].startswith(f"{path}:4: services.ntp: 192.0.2.7 is outside")


# -- errors: file, line and key ----------------------------------------------------------------
H = "site: s\nclosed_networks: [10.0.0.0/8]\n"  # two lines; what follows starts at line 3
DEV = H + "devices:\n"  # entries start at line 4
ALLOW = H + "allow:\n"
BAD = [
    # (yaml, line, key path, message fragment)
    ("site: s\nclosed_networks: [10.20.0.0/16]\ndevices:\n  - {ip: 10.20.0.300}\n",
     4, "devices[0].ip", "'10.20.0.300' is not an IP address"),
    (H + "sevices: {}\n", 3, "sevices", "unknown key (did you mean 'services'?)"),
    (DEV + "  - ip: 10.0.0.1\n    nmae: x\n", 5, "devices[0].nmae",
     "unknown key (did you mean 'name'?)"),
    ("site: 'two words'\nclosed_networks: [10.0.0.0/8]\n", 1, "site", "may only contain"),
    ("site: s\nclosed_networks: [10.20.0.1/16]\n", 2, "closed_networks[0]",
     "has host bits set (did you mean 10.20.0.0/16?)"),
    ("site: s\nclosed_networks: []\n", 2, "closed_networks", "at least one network"),
    ("site: s\nclosed_networks: 10.0.0.0/8\n", 2, "closed_networks", "must be a list"),
    ("site: s\nclosed_networks:\n  - 10.0.0.0/8\n  - 10.1.0.0/16\n", 4, "closed_networks[1]",
     "10.1.0.0/16 overlaps closed_networks[0] 10.0.0.0/8 (line 3)"),
    (DEV + "  - {ip: 10.0.0.1, name: a}\n  - {ip: 10.0.0.2, name: a}\n", 5, "devices[1].name",
     "duplicate device name 'a' (first at line 4)"),
    (DEV + "  - {ip: 10.0.0.1}\n  - {ip: 10.0.0.1}\n", 5, "devices[1].ip",
     "10.0.0.1 is already defined by devices[0].ip 10.0.0.1 (line 4)"),
    (DEV + "  - {cidr: 10.1.0.0/16}\n  - {cidr: 10.1.2.0/24}\n", 5, "devices[1].cidr",
     "10.1.2.0/24 overlaps devices[0].cidr 10.1.0.0/16 (line 4)"),
    (DEV + "  - {ip: 192.168.0.9}\n", 4, "devices[0].ip", "192.168.0.9 is outside closed_networks"),
    (DEV + "  - {cidr: 10.0.0.1/24}\n", 4, "devices[0].cidr",
     "has host bits set (did you mean 10.0.0.0/24?)"),
    (DEV + "  - {name: x}\n", 4, "devices[0]", "needs exactly one of 'ip' or 'cidr'"),
    (DEV + "  - {ip: 10.0.0.1, cidr: 10.0.0.0/24}\n", 4, "devices[0]", "exactly one of"),
    (DEV + "  - {ip: 10.0.0.0/24}\n", 4, "devices[0].ip", "use 'cidr' for a network"),
    (DEV + "  - {cidr: 10.0.0.7}\n", 4, "devices[0].cidr", "use 'ip' for one host"),
    (DEV + "  - {ip: 10.0.0.1, role: cam}\n", 4, "devices[0].role", "'cam' is not one of camera"),
    (DEV + "  - {ip: 10.0.0.1, vendor: Hikvision}\n", 4, "devices[0].vendor", "lower-case id"),
    (DEV + "  - {ip: 10.0.0.1, mac: 44:19:B6:00:00}\n", 4, "devices[0].mac", "not a MAC address"),
    (DEV + "  - {cidr: 10.0.0.0/24, mac: 44-19-b6-00-00-01}\n", 4, "devices[0].mac",
     "use it with 'ip'"),
    (DEV + "  - {ip: 10.0.0.1, name: }\n", 4, "devices[0].name", "must be a non-empty string"),
    (H + "devices: {ip: 10.0.0.1}\n", 3, "devices", "must be a list"),
    (H + "services:\n  dns: 10.0.0.53\n", 4, "services.dns", "must be a list"),
    (H + "services:\n  ftp: [10.0.0.2]\n", 4, "services.ftp", "unknown key"),
    (H + "services:\n  dns: [10.0.0.53, 10.0.0.53]\n", 4, "services.dns[1]",
     "overlaps services.dns[0]"),
    (ALLOW + "  - {to: 10.0.0.2}\n", 4, "allow[0]", "missing required key 'from'"),
    (ALLOW + "  - {from: 10.0.0.1, to: 10.0.0.2,\n     ports: [554, 70000]}\n", 5,
     "allow[0].ports[1]", "'70000' is not a port"),
    (ALLOW + "  - {from: 10.0.0.1, to: 10.0.0.2, ports: ['9-3']}\n", 4, "allow[0].ports[0]",
     "is not a port 1-65535 or a-b range"),
    (ALLOW + "  - {from: 10.0.0.1, to: 10.0.0.2, ports: 554}\n", 4, "allow[0].ports",
     "must be a list"),
    (ALLOW + "  - {from: 10.0.0.1, to: 10.0.0.2, proto: icmp}\n", 4, "allow[0].proto",
     "'icmp' is not one of tcp, udp, any"),
    (ALLOW + "  - {from: 10.0.0.1, to: 'fd00::1'}\n", 4, "allow[0]", "same IP version"),
    ("site: s\nsite: t\nclosed_networks: [10.0.0.0/8]\n", 2, "site",
     "duplicate key (first at line 1)"),
    ("closed_networks: [10.0.0.0/8]\n", 1, "", "missing required key 'site'"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "key", "fragment"), BAD)
def test_error_names_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, fragment: str
) -> None:
    path = write(tmp_path, text)
    prefix = f"{path}:{line}: {key}: " if key else f"{path}:{line}: "
    lines = errors_of(path)
    assert any(ln.startswith(prefix) and fragment in ln for ln in lines), lines


def test_every_error_is_reported_at_once() -> None:
    path = str(FIXTURES / "many-errors.yaml")
    lines = errors_of(path)
    assert all(ln.startswith(f"{path}:") for ln in lines)
    expected = [
        ":1: site:", ":2: closed_networks[1]:", ":5: devices[1].ip: '10.20.0.300'",
        ":6: devices[2].name: duplicate", ":6: devices[2].ip: 10.20.0.11 is already defined",
        ":7: devices[3].adress: unknown key", ":7: devices[3].ip: 192.168.1.1 is outside",
        ":9: services.dns: must be a list", ":11: allow[0].ports[1]:", ":11: allow[0].proto:",
    ]  # fmt: skip
    for fragment in expected:
        assert any(fragment in ln for ln in lines), (fragment, lines)
    assert len(lines) == len(expected)
    assert [int(ln.split(":")[1]) for ln in lines] == sorted(int(ln.split(":")[1]) for ln in lines)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", ":1: the policy is empty"),
        ("# only a comment\n", ":1: the policy is empty"),
        ("site: s\nclosed_networks: [10.0.0.0/8\n", ":3: YAML syntax error"),
        ("site: s\n  bad: indent\n", ":2: YAML syntax error"),
        ("- site: s\n", ":1: the policy must be a mapping"),
        ("just a string\n", ":1: the policy must be a mapping"),
        ("site: s\n---\nsite: t\n", "YAML syntax error"),
    ],
)
def test_unusable_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text) if text else str(tmp_path / "empty.yaml")
    if not text:
        Path(path).write_text("", encoding="utf-8")
    message = "\n".join(errors_of(path))
    assert message.startswith(path) and fragment in message, message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read policy"):
        load_policy(str(tmp_path / "nope.yaml"))


# -- lookups -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def campus() -> Policy:
    return load_policy(str(FIXTURES / "dual-stack-campus.yaml"))


@pytest.mark.parametrize(
    ("addr", "closed"),
    [
        ("172.16.40.1", True), ("172.16.43.255", True), ("172.16.44.0", False),
        ("192.168.77.200", True), ("8.8.8.8", False), ("fd12:3456:789a:ffff::1", True),
        ("fd12:3456:789b::1", False), ("::ffff:172.16.40.9", True), ("2001:db8::1", False),
    ],
)  # fmt: skip
def test_is_closed(campus: Policy, addr: str, closed: bool) -> None:
    assert campus.is_closed(addr) is closed
    assert campus.is_closed(addr) is closed  # cached answer agrees


@pytest.mark.parametrize(
    ("addr", "label"),
    [
        ("172.16.40.130", "cam-east-gate"),  # ip over the range holding it
        ("172.16.40.200", "172.16.40.0/24"),
        ("172.16.42.100", "cams-east"),
        ("172.16.42.200", None),
        ("172.16.41.10", "nvr-a"),
        ("172.16.41.11", None),
        ("fd12:3456:789a::10", "cam-v6"),
        ("fd12:3456:789a:1::abcd", "fd12:3456:789a:1::/64"),
        ("10.0.0.1", None),
    ],
)
def test_device_for_most_specific_entry(campus: Policy, addr: str, label: str | None) -> None:
    dev = campus.device_for(addr)
    assert (dev.label if dev else None) == label


def test_services(campus: Policy) -> None:
    assert campus.is_service("dns", "172.16.43.53")
    assert campus.is_service("dns", "fd12:3456:789a::53")
    assert not campus.is_service("dns", "172.16.43.123")
    assert campus.is_service("vms", "192.168.77.6")
    assert all(campus.has_services(k) for k in config.SERVICE_KINDS)
    with pytest.raises(ValueError):
        campus.is_service("ftp", "172.16.43.53")


@pytest.mark.parametrize(
    ("src", "dst", "proto", "port", "ok"),
    [
        ("172.16.40.5", "172.16.41.10", "tcp", 554, True),
        ("172.16.40.5", "172.16.41.10", "tcp", 8005, True),
        ("172.16.40.5", "172.16.41.10", "tcp", 8011, False),
        ("172.16.40.5", "172.16.41.10", "udp", 9999, True),  # proto udp, any port
        ("172.16.40.5", "172.16.41.10", "icmp", 0, False),
        ("172.16.41.10", "172.16.40.5", "tcp", 554, False),  # rules are directional
        ("192.168.77.5", "172.16.42.1", "icmp", 0, True),  # no ports, proto any
        ("192.168.78.5", "172.16.42.1", "tcp", 80, False),
    ],
)  # fmt: skip
def test_allowed(campus: Policy, src: str, dst: str, proto: str, port: int, ok: bool) -> None:
    assert campus.allowed(src, dst, proto, port) is ok


def test_lookups_reject_non_addresses(campus: Policy) -> None:
    with pytest.raises(ValueError):
        campus.is_closed("not-an-ip")
    with pytest.raises(ValueError):
        campus.device_for("10.0.0.300")


def test_bounded_caches_stay_correct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_module, "CACHE_MAX", 4)
    p = load_policy(str(FIXTURES / "hamburg-hansaplatz.yaml"))
    for i in range(50):
        assert p.is_closed(f"10.20.{i}.1")
        assert not p.is_closed(f"10.21.{i}.1")
        p.device_for(f"10.20.1.{i}")
    assert len(p._ix.c_closed) <= 4 and len(p._ix.c_device) <= 4


def test_longest_prefix_wins_for_programmatic_overlaps() -> None:
    wide = DeviceEntry(cidr="10.0.0.0/16", name="wide")
    narrow = DeviceEntry(cidr="10.0.1.0/24", name="narrow")
    host = DeviceEntry(ip="10.0.1.5", name="host")
    p = Policy(site="t", closed_networks=(ipaddress.ip_network("10.0.0.0/8"),),
               devices=(wide, host, narrow))  # fmt: skip
    assert p.device_for("10.0.1.5") is host
    assert p.device_for("10.0.1.6") is narrow
    assert p.device_for("10.0.2.6") is wide


def test_default_policy() -> None:
    p = default_policy()
    assert p.site == "default" and p.devices == () and p.source is None
    for addr in ("10.1.2.3", "172.31.0.1", "192.168.0.1", "100.64.0.1", "169.254.1.1", "127.0.0.1",
                 "239.255.255.250", "fd00::1", "fe80::1", "::1", "ff02::fb"):  # fmt: skip
        assert p.is_closed(addr), addr
    for addr in ("8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:db8::1"):
        assert not p.is_closed(addr), addr
    assert p.device_for("10.1.2.3") is None
    assert not p.has_services("dns") and not p.allowed("10.0.0.1", "10.0.0.2", "tcp", 80)


def test_describe_policy() -> None:
    text = describe_policy(load_policy(str(FIXTURES / "hamburg-hansaplatz.yaml")))
    assert "site: hamburg-hansaplatz" in text
    assert "10.20.0.0/16" in text
    assert "cam-hansa-01" in text and "vendor=hikvision" in text and "role=recorder" in text
    assert "dns:    10.20.0.53" in text
    assert "10.20.1.0/24 -> 10.20.0.2  proto any  554, 8000" in text
    assert "closed networks 1, inventory hosts 2, inventory ranges 1, service entries 2" in text
    assert "every closed-network host seen is a device" in describe_policy(default_policy())


def test_policy_values_are_immutable_and_hashable() -> None:
    p = load_policy(str(FIXTURES / "hamburg-hansaplatz.yaml"))
    with pytest.raises(AttributeError):
        p.site = "x"  # type: ignore[misc]
    cam = p.devices[0]
    assert hash(cam) == hash(DeviceEntry(ip=cam.ip, name=cam.name, vendor=cam.vendor,
                                         model=cam.model, role=cam.role))  # fmt: skip
    assert isinstance(hash(p), int)


def test_pure_modules_import_nothing_forbidden() -> None:
    forbidden = {"pandas", "prometheus_client", "pcapy", "socket"}
    pure = ["monitor/classify/networks.py", "monitor/classify/catalog.py"]
    for rel in pure + [
        str(p.relative_to(REPO)) for p in (REPO / "monitor" / "config").glob("*.py")
    ]:
        tree = ast.parse((REPO / rel).read_text(encoding="utf-8"))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names.add((node.module or "").split(".")[0])
        assert not names & forbidden, (rel, names & forbidden)
