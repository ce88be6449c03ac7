"""TLS and QUIC flows read beyond their head packets until their handshake is read.

The head of a flow (its first ``head_packets`` packets) usually holds the ClientHello;
a server's certificate chain can take more segments than that, and a hello split over
segments may need one more. Flows whose :class:`~monitor.decode.tls_session.TlsSession`
still waits for something are *followed*: each batch, their further payload packets go
to the TLS dissector (no other), until the session is done or the flow ends. At most
``MAX_FOLLOWED`` flows are followed at once (``dropped`` counts the ones that were not);
each session bounds what it keeps, so following costs nothing for other traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.classify.tls_inspect import TlsDissector
from monitor.decode.frames import DecodedBatch
from monitor.decode.tcp_stream import tcp_seq
from monitor.flow.batch import BatchResult
from monitor.flow.state import FlowState
from monitor.model import IPPROTO_TCP

MAX_FOLLOWED = 4096


@dataclass(slots=True)
class TlsFollower:
    """The flows followed past their head, by uid (see the module doc)."""

    tls: TlsDissector
    flows: dict[str, FlowState] = field(default_factory=dict)
    dropped: int = 0

    def run(
        self, d: DecodedBatch, result: BatchResult, done: npt.NDArray[np.bool_],
        touched: dict[str, FlowState],
    ) -> None:  # fmt: skip
        """Follow the ``touched`` flows (uid -> flow) that still wait, then dissect this
        batch's frames of followed flows that the head pass did not (``done``), adding the
        flows they went to to ``touched``."""
        self._enlist(touched)
        if not self.flows:
            return
        ports = np.fromiter({f.orig_port for f in self.flows.values()}, np.int64)
        near = np.isin(d.dport, ports) | np.isin(d.sport, ports)
        rows = np.flatnonzero(near & ~done & (d.payload_len > 0))
        data, ts = d.batch.data, d.batch.ts
        for i in rows.tolist():
            flow = result.flow_of(i)
            if flow is None or self.flows.get(flow.uid) is not flow or flow.tls is None:
                continue
            if not flow.tls.following:
                continue
            start = int(d.payload_off[i])
            payload = bytes(data[start : start + int(d.payload_len[i])])
            from_orig = bool(result.frame_low[i]) == flow.orig_is_low
            if flow.proto == IPPROTO_TCP:
                seq = tcp_seq(data, int(d.l3[i]), start)
                self.tls.tcp(flow, payload, float(ts[i]), from_orig, seq)
            else:
                self.tls.quic(flow, payload, float(ts[i]), from_orig)
            touched[flow.uid] = flow
        for uid in [u for u, f in self.flows.items() if f.tls is None or not f.tls.following]:
            del self.flows[uid]

    def _enlist(self, touched: dict[str, FlowState]) -> None:
        """Follow the ``touched`` flows whose handshake still waits (up to MAX_FOLLOWED)."""
        for flow in list(touched.values()):
            tls = flow.tls
            if tls is None or not tls.following or flow.uid in self.flows:
                continue
            if len(self.flows) >= MAX_FOLLOWED:
                self.dropped += 1
            else:
                self.flows[flow.uid] = flow

    def forget(self, flow: FlowState) -> None:
        """The flow ended: follow it no more."""
        self.flows.pop(flow.uid, None)
