"""Flow-hash partitions (replay --jobs): whose frames are whose, and the shared frames."""

from __future__ import annotations

import dataclasses

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from monitor.classify.catalog import load_catalog
from monitor.classify.inspector import Inspector
from monitor.classify.names import NameCache
from monitor.decode.tunnels import GENEVE_PORTS, VXLAN_PORTS, udp_port_table
from monitor.partition import Partition
from tests.framebuild import batch_of

E = Ether(src="44:19:b6:00:00:01", dst="00:11:22:33:44:55")
PORTS = udp_port_table(VXLAN_PORTS, GENEVE_PORTS)
CAM, RESOLVER = "10.20.1.11", "10.20.0.53"


def _frames() -> list[object]:
    """40 TCP flows (both directions), an ARP, and a DNS lookup with its answer."""
    frames: list[object] = []
    for i in range(40):
        frames.append(E / IP(src=CAM, dst=f"198.51.100.{i}") / TCP(sport=40000 + i, dport=443))
        frames.append(E / IP(src=f"198.51.100.{i}", dst=CAM) / TCP(sport=443, dport=40000 + i))
    frames.append(E / ARP(psrc=CAM, pdst=RESOLVER))
    query = DNS(id=7, rd=1, qd=DNSQR(qname="litedev.hik-connect.com"))
    answer = DNS(
        id=7, qr=1, qd=DNSQR(qname="litedev.hik-connect.com"),
        an=DNSRR(rrname="litedev.hik-connect.com", rdata="198.51.100.23", ttl=60),
    )  # fmt: skip
    frames.append(E / IP(src=CAM, dst=RESOLVER) / UDP(sport=5353 + 1, dport=53) / query)
    frames.append(E / IP(src=RESOLVER, dst=CAM) / UDP(sport=53, dport=5353 + 1) / answer)
    return frames


def _own_frames(count: int) -> list[list[float]]:
    batch = batch_of(_frames())
    owned = []
    for i in range(count):
        mine, _ = Partition(i, count).split(batch, PORTS)
        owned.append(mine.batch.ts.tolist())
    return owned


def test_every_frame_belongs_to_exactly_one_partition() -> None:
    for count in (1, 2, 3, 5):
        owned = _own_frames(count)
        every = sorted(t for part in owned for t in part)
        assert every == batch_of(_frames()).ts.tolist()  # each once, none lost


def test_both_directions_of_a_flow_go_to_the_same_partition_and_flows_spread() -> None:
    owned = _own_frames(3)
    start = batch_of(_frames()).ts[0]
    for i in range(40):  # flow i: frames 2i (out) and 2i+1 (back)
        out, back = start + 2 * i, start + 2 * i + 1
        holders = [n for n, part in enumerate(owned) if out in part or back in part]
        assert len(holders) == 1 and out in owned[holders[0]] and back in owned[holders[0]]
    assert all(len(part) > 10 for part in owned)  # 40 flows over 3: none is empty


def test_frames_that_are_not_ip_belong_to_partition_zero() -> None:
    arp_ts = batch_of(_frames()).ts[80]
    owned = _own_frames(4)
    assert arp_ts in owned[0] and all(arp_ts not in part for part in owned[1:])


def test_other_partitions_read_the_dns_answer_and_learn_the_name() -> None:
    batch = batch_of(_frames())
    catalog = load_catalog()
    learned = []
    for i in range(2):
        mine, shared = Partition(i, 2).split(batch, PORTS)
        dns_is_mine = batch.ts[82] in mine.batch.ts.tolist()
        if dns_is_mine:
            assert shared is None  # no other partition's DNS in this batch
            continue
        # the answer only: a question teaches no name, so other partitions skip it
        assert shared is not None and [r[0] for r in shared.rows] == [82]
        _, proto, src, sport, dst, dport, payload, _ = shared.rows[0]
        assert payload.startswith(b"\x00\x07\x81")  # the answer (id 7, QR set) as sent
        assert (proto, src, sport, dst, dport) == (17, RESOLVER, 53, CAM, 5354)
        names = NameCache()
        inspector = Inspector(catalog, names, keep_name_log=True)
        shared.run(inspector)
        learned.append(names.lookup("198.51.100.23", float(batch.ts[82])))
        assert inspector.name_log == []  # the partition that owns the flow logs its names
    (name,) = learned  # exactly one partition did not own the DNS flow
    assert name is not None and name.name == "litedev.hik-connect.com"


def test_shared_frames_run_in_frame_order_among_the_partitions_own() -> None:
    batch = batch_of(_frames())
    seen: list[int] = []

    class Recorder:
        def shared(self, *args: object) -> None:
            seen.append(int(args[-1] - batch.ts[0]))  # its frame number, from its time

    for i in range(2):
        mine, shared = Partition(i, 2).split(batch, PORTS)
        if shared is None:
            continue
        own = (mine.batch.ts - batch.ts[0]).astype(int).tolist()
        for row, frame in enumerate(own):
            seen.clear()
            shared.next = 0
            shared.run(Recorder(), before=row)  # type: ignore[arg-type]
            assert seen == [f for f in (82,) if f < frame]
        shared.run(Recorder())  # type: ignore[arg-type]
        assert seen == [82]  # the rest, each once


def _mixed() -> list[object]:
    """TCP flows with DNS answers, a DNS question and a SADP inquiry among them."""
    frames: list[object] = []
    for i in range(30):
        frames.append(E / IP(src=CAM, dst=f"198.51.100.{i}") / TCP(sport=41000 + i, dport=443))
        if i % 6 == 2:  # a lookup's answer, each on a flow of its own
            answer = DNS(
                id=i, qr=1, qd=DNSQR(qname=f"n{i}.example"),
                an=DNSRR(rrname=f"n{i}.example", rdata=f"203.0.113.{i}", ttl=60),
            )  # fmt: skip
            frames.append(E / IP(src=RESOLVER, dst=CAM) / UDP(sport=53, dport=30000 + i) / answer)
        if i == 9:
            question = DNS(id=9, rd=1, qd=DNSQR(qname="q.example"))
            frames.append(E / IP(src=CAM, dst=RESOLVER) / UDP(sport=30999, dport=53) / question)
        if i == 14:  # an inquiry whose third byte has the DNS "QR" bit clear: not DNS
            sadp = b"<?xml version='1.0'?><Probe><Uuid>1</Uuid><Types>inquiry</Types></Probe>"
            group = IP(src=CAM, dst="239.255.255.250")
            frames.append(E / group / UDP(sport=37020, dport=37020) / sadp)
    return frames


def test_shared_frames_are_the_others_answers_and_announcements_handed_over_whole() -> None:
    frames = _mixed()
    cut = batch_of(frames, wirelen=[len(bytes(f)) + 4 for f in frames])  # as if cut short
    batch = dataclasses.replace(cut, source=3)
    start = float(batch.ts[0])
    splits = [Partition(i, 2).split(batch, PORTS) for i in range(2)]
    owner = {}
    for i, (mine, _) in enumerate(splits):
        assert mine.batch.source == 3 and mine.batch.linktype == batch.linktype
        rows = (mine.batch.ts - start).astype(int)
        assert mine.batch.wirelen.tolist() == batch.wirelen[rows].tolist()
        owner.update(dict.fromkeys(rows.tolist(), i))
    answers = [n for n, f in enumerate(frames) if f.haslayer(DNS) and f[DNS].qr == 1]
    inquiry = [n for n, f in enumerate(frames) if f.haslayer(UDP) and f[UDP].dport == 37020]
    assert len(answers) == 5 and len(inquiry) == 1
    for i, (mine, shared) in enumerate(splits):
        expected = [n for n in sorted(answers + inquiry) if owner[n] != i]
        got = [row[0] for row in shared.rows] if shared is not None else []
        assert got == expected  # the question is left out: it teaches nothing
        if shared is None:
            continue
        for index, proto, src, sport, dst, dport, payload, ts in shared.rows:
            f = frames[index]
            assert (src, dst, sport, dport) == (f[IP].src, f[IP].dst, f[UDP].sport, f[UDP].dport)
            assert (proto, payload, ts) == (17, bytes(f[UDP].payload), float(batch.ts[index]))
        heard: list[tuple[int, str, int]] = []

        class Recorder:
            def __init__(self, into: list[tuple[int, str, int]]) -> None:
                self.into = into

            def shared(self, proto, src, sport, dst, dport, payload, ts) -> None:  # type: ignore[no-untyped-def]
                self.into.append((int(ts - start), dst, dport))

        own = (mine.batch.ts - start).astype(int).tolist()
        for row, frame in enumerate(own):  # before each own frame: the shared ones before it
            heard.clear()
            shared.next = 0
            shared.run(Recorder(heard), before=row)  # type: ignore[arg-type]
            assert [h[0] for h in heard] == [n for n in expected if n < frame]
        heard.clear()
        shared.next = 0
        shared.run(Recorder(heard))  # type: ignore[arg-type]
        assert heard == [(n, frames[n][IP].dst, frames[n][UDP].dport) for n in expected]
