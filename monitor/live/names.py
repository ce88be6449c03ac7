"""DNS answers for every worker: with kernel fanout a DNS flow and the flow it names may land apart.

``PACKET_FANOUT_HASH`` keeps each flow on one worker, but a camera's DNS exchange and
its later connection to the answered address are two flows, often on two workers. Each
worker therefore also reads a small second handle filtered to DNS responses (no
fanout: every worker sees all of them) and feeds the answers into its own name cache.
Those packets are not counted again; the fanout handle counts them once.
"""

from __future__ import annotations

import numpy as np

from monitor.classify.names import NameCache
from monitor.decode import dns
from monitor.decode.frames import decode_batch
from monitor.model import IPPROTO_UDP, FrameBatch

DNS_RESPONSES_BPF = "udp src port 53"
A, AAAA = 1, 28


def learn_answers(names: NameCache, batch: FrameBatch) -> int:
    """Put the A/AAAA answers of the DNS responses in ``batch`` into ``names``; how many."""
    if not len(batch):
        return 0
    d = decode_batch(batch)
    rows = np.flatnonzero(d.ip & (d.proto == IPPROTO_UDP) & (d.sport == 53) & (d.payload_len > 0))
    learned = 0
    data = batch.data
    for i in rows.tolist():
        start = int(d.payload_off[i])
        msg = dns.parse_dns(bytes(data[start : start + int(d.payload_len[i])]))
        if msg is None or not msg.is_response:
            continue
        query = msg.questions[0].name if msg.questions else ""
        ts = float(batch.ts[i])
        for a in msg.answers:
            if a.rtype in (A, AAAA) and a.value:
                names.learn(a.value, a.name, query or a.name, a.ttl, ts)
                learned += 1
    return learned
