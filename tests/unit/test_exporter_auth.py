"""Failed basic-auth logins are rate limited per client (429 without bcrypt) and can never
push a good scraper's cached login out; the budget and both caches stay bounded."""

from __future__ import annotations

import base64
import http.client
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import pytest

from monitor.counters import Counters, Snapshot
from monitor.exporter.auth import (
    AuthResult,
    BudgetSettings,
    DigestCache,
    FailureBudget,
    client_key,
    credential_key,
)
from monitor.exporter.collector import SensorInfo, build_registry
from monitor.exporter.server import Landing, MetricsServer, serve_metrics
from monitor.exporter.webconfig import WebConfig
from tests.waiting import scaled

PASSWORD = "good-scraper"


@pytest.fixture()
def bcrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every bcrypt check the endpoint runs, by password."""
    calls: list[str] = []
    real: Callable[[bytes, bytes], bool] = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(password.decode())
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return calls


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[MetricsServer]:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4))
    web = WebConfig(users={"prometheus": hashed}, source=tmp_path / "web.yml")
    registry = build_registry(
        lambda: Snapshot("s", 1.0, Counters()),
        lambda: SensorInfo("lab", "1.0", True, None),
        process_metrics=False,
    )
    running = serve_metrics("127.0.0.1:0", registry, lambda: Landing("m", "1", "lab"), web)
    try:
        yield running
    finally:
        running.shutdown()


def get(server: MetricsServer, source: str, user: str, password: str) -> tuple[int, str]:
    """GET /metrics from address ``source`` (any of 127/8 is this host): (status, Retry-After)."""
    conn = http.client.HTTPConnection(
        *server.address, timeout=scaled(10), source_address=(source, 0)
    )
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    try:
        conn.request("GET", "/metrics", headers={"Authorization": f"Basic {token}"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Retry-After") or ""
    finally:
        conn.close()


def test_password_cycling_gets_429_without_bcrypt_and_the_good_scraper_keeps_working(
    server: MetricsServer, bcrypt_calls: list[str]
) -> None:
    good, attacker, bystander = "127.0.0.1", "127.0.0.2", "127.0.0.3"
    assert get(server, good, "prometheus", PASSWORD)[0] == 200
    assert bcrypt_calls == [PASSWORD]  # the first login costs one bcrypt, later ones none

    burst = server._site.budget.settings.burst
    answers = [get(server, attacker, "prometheus", f"guess-{i}") for i in range(burst + 40)]
    assert [code for code, _ in answers] == [401] * burst + [429] * 40
    assert all(int(wait) >= 1 for _, wait in answers[burst:])  # 429 says when to retry
    assert len(bcrypt_calls) == 1 + burst  # nothing was checked once over budget
    assert server.tally.counts["auth_limited"] == 40

    # The scraper's cached login survived all of it: 200 with no bcrypt.
    assert get(server, good, "prometheus", PASSWORD)[0] == 200
    assert len(bcrypt_calls) == 1 + burst
    # Another client has a budget of its own.
    assert get(server, bystander, "prometheus", "typo")[0] == 401
    assert len(bcrypt_calls) == 2 + burst
    # From the limited address: a new guess is refused unchecked, while the login bcrypt
    # already accepted still passes (a scraper behind the same NAT as the attacker).
    assert get(server, attacker, "prometheus", "one-more")[0] == 429
    assert get(server, attacker, "prometheus", PASSWORD)[0] == 200
    assert len(bcrypt_calls) == 2 + burst


def test_scrapers_logging_in_together_share_one_bcrypt(
    server: MetricsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def slow(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        time.sleep(0.3)  # long enough for every worker to pick up a request meanwhile
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", slow)
    statuses: list[int] = []
    crowd = [
        threading.Thread(
            target=lambda: statuses.append(get(server, "127.0.0.1", "prometheus", PASSWORD)[0])
        )
        for _ in range(20)
    ]
    for t in crowd:
        t.start()
    for t in crowd:
        t.join(scaled(30))
    assert statuses == [200] * 20
    assert len(calls) == 1  # not one per worker


def test_a_repeated_wrong_password_costs_one_bcrypt(
    server: MetricsServer, bcrypt_calls: list[str]
) -> None:
    for _ in range(5):
        assert get(server, "127.0.0.4", "prometheus", "stale")[0] == 401
    assert bcrypt_calls == ["stale"]
    # Without credentials: 401, no bcrypt, no budget spent.
    conn = http.client.HTTPConnection(*server.address, timeout=scaled(10))
    conn.request("GET", "/metrics")
    assert conn.getresponse().status == 401
    conn.close()
    assert bcrypt_calls == ["stale"]


def test_budget_refills_and_stays_bounded() -> None:
    now = [0.0]
    settings = BudgetSettings(burst=2, refill_seconds=10, clients=100, total_burst=1000)
    budget = FailureBudget(settings, clock=lambda: now[0])
    for _ in range(2):
        assert budget.allows("a")
        budget.charge("a")
    assert not budget.allows("a") and budget.allows("b")
    assert budget.retry_after("a") == 10
    now[0] = 10.0
    assert budget.allows("a")  # one token back after refill_seconds
    for i in range(500):
        budget.charge(f"10.0.{i // 256}.{i % 256}")
    assert len(budget) <= settings.clients


def test_shared_budget_limits_many_addresses_together() -> None:
    now = [0.0]
    budget = FailureBudget(
        BudgetSettings(burst=5, total_burst=3, total_refill_seconds=1.0), clock=lambda: now[0]
    )
    for i in range(3):
        assert budget.allows(f"10.0.0.{i}")
        budget.charge(f"10.0.0.{i}")
    assert not budget.allows("10.0.0.99")  # a fresh address, but everyone's budget is spent
    now[0] = 1.0
    assert budget.allows("10.0.0.99")


def test_caches_are_bounded_and_separate() -> None:
    cache = DigestCache(3)
    for i in range(10):
        cache.add(credential_key("u", str(i)))
    assert len(cache) == 3 and credential_key("u", "9") in cache
    assert credential_key("u", "0") not in cache
    web = WebConfig(users={"u": bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4))})
    budget = FailureBudget(BudgetSettings(burst=10_000, total_burst=10_000))
    assert web.check("u", "pw", "a", budget) is AuthResult.OK
    for i in range(300):  # more wrong passwords than the good cache holds entries
        assert web.check("u", f"x{i}", "b", budget) is AuthResult.DENIED
    assert credential_key("u", "pw") in web._good
    assert len(web._good) == 1


def test_client_key_groups_ipv6_by_64() -> None:
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert (
        client_key("2001:db8:1:2::5") == client_key("2001:db8:1:2:ffff::1") == ("2001:db8:1:2::/64")
    )
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("fe80::1%eth0") == "fe80::/64"
