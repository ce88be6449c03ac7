"""replay --jobs: the partitions' ClientHellos merge into the fingerprints one process
finds, and a ClientHello flood costs a partition memory per client and JA4, not per hello."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.classify import tls_client_log
from monitor.classify.tls_client_log import EXACT_CALLS, TlsClientLog, merge_tls_clients
from monitor.classify.tls_clients import MAX_PRINTS, TlsClients


def closed(ip: str) -> bool:
    return ip.startswith("10.")


Hello = tuple[int, float, str, str, str]  # batch, ts, ip, ja4, ja3


def one_process(hellos: list[Hello]) -> TlsClients:
    book = TlsClients(closed)
    for _, ts, ip, ja4, ja3 in hellos:
        book.add(ts, ip, ja4, ja3)
    return book


def partitioned(hellos: list[Hello], owner: list[int], parts: int) -> TlsClients:
    logs = [TlsClientLog(closed) for _ in range(parts)]
    for (batch, ts, ip, ja4, ja3), part in zip(hellos, owner, strict=True):
        logs[part].batch = batch
        logs[part].add(ts, ip, ja4, ja3)
    book = TlsClients(closed)
    merge_tls_clients(book, logs)
    return book


def state(book: TlsClients) -> tuple[object, ...]:
    clients = {
        ip: (
            {j: (p.ja3, p.flows, p.first_ts, p.last_ts) for j, p in prints.prints.items()},
            [(c.new, c.ts, c.old, c.flows, c.old_first) for c in prints.changes],
        )
        for ip, prints in book.clients.items()
    }
    return clients, book.dropped


@st.composite
def capture(draw: st.DrawFn) -> tuple[list[Hello], list[int], int]:
    """ClientHellos in capture order (times rise, several per batch) from a few clients,
    some outside the closed network, each hello in a random partition; no more than
    EXACT_CALLS in all (runs past it: the flood tests below)."""
    parts = draw(st.integers(2, 3))
    n = draw(st.integers(0, EXACT_CALLS))
    hellos: list[Hello] = []
    ts = 1_000.0
    for i in range(n):
        ts += draw(st.sampled_from([0.5, 1.0, 90.0, 400.0]))
        ip = draw(st.sampled_from(["10.0.0.1", "10.0.0.2", "192.0.2.9"]))
        ja4 = draw(st.sampled_from([f"t13d_{k}" for k in range(4)]))
        hellos.append((i // 7, ts, ip, ja4, f"ja3-{ja4}-{i % 3}"))
    owner = draw(st.lists(st.integers(0, parts - 1), min_size=n, max_size=n))
    return hellos, owner, parts


@settings(max_examples=200, deadline=None)
@given(capture())
def test_merged_fingerprints_and_changes_equal_one_process(
    case: tuple[list[Hello], list[int], int],
) -> None:
    hellos, owner, parts = case
    assert state(partitioned(hellos, owner, parts)) == state(one_process(hellos))


def test_a_flood_of_client_hellos_keeps_a_few_moments_per_client_and_ja4() -> None:
    log = TlsClientLog(closed)
    for i in range(100_000):
        log.batch = i // 4096
        log.add(1_000.0 + i / 1000, "10.0.0.7", "t13d_flood", f"ja3-{i % 5}")
    calls = log.clients["10.0.0.7"]["t13d_flood"]
    assert len(calls.moments) == EXACT_CALLS
    assert calls.more == 100_000 - EXACT_CALLS
    book = TlsClients(closed)
    merge_tls_clients(book, [log, TlsClientLog(closed)])
    got = book.clients["10.0.0.7"].prints["t13d_flood"]
    assert (got.flows, got.first_ts, got.last_ts, got.ja3) == (100_000, 1_000.0, 1_099.999, "ja3-0")


@pytest.mark.parametrize("spread", [1, 2], ids=["one-partition-sees-all", "alternating"])
def test_ja4s_beyond_the_bound_are_dropped_in_the_partition_and_counted(spread: int) -> None:
    hellos = [(0, 1_000.0 + i, "10.0.0.3", f"t13d_{i}", "ja3") for i in range(MAX_PRINTS + 5)]
    hellos += [(1, 2_000.0 + i, "10.0.0.3", f"t13d_{MAX_PRINTS + 1}", "ja3") for i in range(50)]
    owner = [i % spread for i in range(len(hellos))]
    logs = [TlsClientLog(closed) for _ in range(2)]
    for (batch, ts, ip, ja4, ja3), part in zip(hellos, owner, strict=True):
        logs[part].batch = batch
        logs[part].add(ts, ip, ja4, ja3)
    assert all(len(log.clients.get("10.0.0.3", {})) <= MAX_PRINTS for log in logs)
    merged = TlsClients(closed)
    merge_tls_clients(merged, logs)
    assert state(merged) == state(one_process(hellos))
    assert merged.dropped == 5 + 50


def test_a_new_ja4_inside_a_long_run_is_a_change_with_at_least_the_true_count(
    monkeypatch: object,
) -> None:
    """The documented edge: past EXACT_CALLS a run counts as if it came before."""
    monkeypatch.setattr(tls_client_log, "EXACT_CALLS", 4)  # type: ignore[attr-defined]
    hellos = [(0, 1_000.0 + 100 * i, "10.0.0.4", "t13d_old", "ja3") for i in range(10)]
    hellos.insert(8, (0, 1_750.0, "10.0.0.4", "t13d_new", "ja3"))
    merged = partitioned(hellos, [0] * len(hellos), 1)
    single = one_process(hellos)
    (got,), (want,) = merged.clients["10.0.0.4"].changes, single.clients["10.0.0.4"].changes
    assert (got.new, got.old, got.ts) == (want.new, want.old, want.ts)
    assert want.flows == 8 and got.flows == 10
    assert state(merged)[0]["10.0.0.4"][0] == state(single)[0]["10.0.0.4"][0]  # type: ignore[index]


@pytest.mark.parametrize("first", ["t13d_a", "t13d_b"])
def test_fingerprints_used_alike_are_listed_by_name_not_by_which_came_first(first: str) -> None:
    """Two JA4s sent as often, from the same moment (a capture whose time runs backwards):
    the list must not depend on the order the partitions hand them over in."""
    from monitor.model import DeviceSummary

    book = TlsClients(closed)
    second = "t13d_b" if first == "t13d_a" else "t13d_a"
    for ja4 in (first, second):
        book.add(1_000.0, "10.0.0.5", ja4, f"ja3-{ja4}")
    device = DeviceSummary(ip="10.0.0.5")
    book.apply({"10.0.0.5": device})
    assert [p.ja4 for p in device.tls_fingerprints] == ["t13d_a", "t13d_b"]


def test_clients_beyond_the_bound_are_dropped_alike_in_the_book_and_the_partition_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both keep the first MAX_CLIENTS closed-network clients and count every later
    ClientHello of another client as dropped; outside clients are neither kept nor counted."""
    from monitor.classify import tls_clients

    for module in (tls_clients, tls_client_log):
        monkeypatch.setattr(module, "MAX_CLIENTS", 2)
    hellos = [(0, 1_000.0 + i, ip, "t13d_a", "ja3")
              for i, ip in enumerate(["10.0.0.1", "192.0.2.1", "10.0.0.2", "10.0.0.3",
                                      "10.0.0.1", "10.0.0.3", "192.0.2.1"])]  # fmt: skip
    book, log = one_process(hellos), TlsClientLog(closed)
    for batch, ts, ip, ja4, ja3 in hellos:
        log.batch = batch
        log.add(ts, ip, ja4, ja3)
    assert sorted(book.clients) == sorted(log.clients) == ["10.0.0.1", "10.0.0.2"]
    assert book.dropped == log.dropped == 3  # 10.0.0.3 twice, 192.0.2.1 once it is full
    assert state(partitioned(hellos, [0, 1, 0, 1, 0, 1, 0], 2)) == state(book)
