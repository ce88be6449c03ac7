"""Destinations that cannot leave the segment never count as outside (CONTRACT.md §2)."""

from __future__ import annotations

import pytest

from monitor.classify import networks
from monitor.classify.networks import never_outside


@pytest.mark.parametrize(
    "addr",
    [
        "224.0.0.251", "239.255.255.250", "239.255.255.251", "233.89.188.1", "224.0.0.1",
        "255.255.255.255", "0.0.0.0", "0.1.2.3", "169.254.10.20", "127.0.0.1", "127.255.0.9",
        "ff02::1", "ff02::c", "ff02::fb", "ff05::1:3", "fe80::1", "fe80::aa:bbff:fecc:dd",
        "::", "::1", "::ffff:239.255.255.250", "::ffff:127.0.0.1",
    ],
)  # fmt: skip
def test_never_outside(addr: str) -> None:
    assert never_outside(addr) is True
    assert never_outside(addr) is True  # from the cache


@pytest.mark.parametrize(
    "addr",
    [
        "8.8.8.8", "10.20.0.11", "192.168.1.255", "10.255.255.255", "100.64.0.1",
        "172.16.0.1", "223.255.255.255", "240.0.0.1", "255.255.255.254", "1.0.0.0",
        "2001:db8::1", "fd00::1", "fec0::1", "fc00::1", "::2", "::ffff:8.8.8.8",
    ],
)  # fmt: skip
def test_can_leave(addr: str) -> None:
    # Directed broadcasts (e.g. 192.168.1.255) depend on the subnet and are not guessed.
    assert never_outside(addr) is False


def test_rejects_non_addresses() -> None:
    for bad in ("", "host.example", "10.0.0.256", "fe80::1::2"):
        with pytest.raises(ValueError):
            never_outside(bad)


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(networks, "_CACHE_MAX", 8)
    monkeypatch.setattr(networks, "_cache", {})
    for i in range(100):
        assert never_outside(f"224.0.{i}.1")
        assert not never_outside(f"10.0.{i}.1")
    assert len(networks._cache) <= 8
