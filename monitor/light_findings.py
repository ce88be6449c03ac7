"""Light flows' findings straight from their columns, without a FlowState.

The light path raises findings for floods of payload-free TCP flows; building a
FlowState for each only to word one finding is what made a stop in the middle of a SYN
flood take seconds. :func:`light_findings` words many rows at once and
:func:`light_finding` one, as :func:`~monitor.classify.evidence.make_finding` words each
row's FlowState (tests hold them to each other); ``worded=False`` leaves the evidence
empty (a summary folds it; :func:`evidence` words it if it is kept after all).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from monitor.classify.evidence import evidence_tail
from monitor.flow.community_id import community_hashes_v4, flow_ids, render_many, row_flow_ref
from monitor.flow.key import v4_text
from monitor.flow.light import LightFlows
from monitor.model import Finding, FindingKind
from monitor.model_flowref import FlowRef

I64 = npt.NDArray[np.int64]


def light_findings(
    light: LightFlows,
    slots: I64,
    devices: Sequence[str | None],
    kinds: Sequence[FindingKind],
    worded: bool = True,
) -> list[Finding]:
    """The findings of rows ``slots`` (egress or inbound, as ``kinds`` say); ``devices``
    replace the device's address where not None (e.g. with "other"), as the full path
    does after wording. For many rows: the community ids are hashed in one pass."""
    c = light.cols
    first = c["first_ts"][slots]
    orig, resp = c["orig_addr"][slots], c["resp_addr"][slots]
    oport, rport = c["orig_port"][slots], c["resp_port"][slots]
    digests = community_hashes_v4(c["proto"][slots].astype(np.int64), orig, oport, resp, rport)
    columns = (
        c["dev_orig"][slots], orig, oport, resp, rport, first, c["last_ts"][slots],
        c["orig_pkts"][slots] + c["resp_pkts"][slots],
        c["orig_bytes"][slots] + c["resp_bytes"][slots], light.answered(slots),
        flow_ids(digests, first), c["uid"][slots], c["proto"][slots],
    )  # fmt: skip
    out = []
    rows = zip(*(col.tolist() for col in columns), strict=True)
    for row, cid, device, kind in zip(rows, render_many(digests), devices, kinds, strict=True):
        dev_orig, o, op, r, rp, ts, last, packets, size, answered, fid, uid, proto = row
        ref = FlowRef(fid, cid, proto, v4_text(o), op, v4_text(r), rp, ts, ())
        out.append(_finding(ref, dev_orig, device, kind, last, packets, size, answered, uid))
        if worded:
            out[-1].evidence = evidence(out[-1], dev_orig)
    return out


def light_finding(
    light: LightFlows, slot: int, device: str | None, kind: FindingKind, worded: bool = True
) -> Finding:
    """:func:`light_findings` of one row, without numpy temporaries (few rows)."""
    c = light.cols
    dev_orig = bool(c["dev_orig"][slot])
    found = _finding(
        row_flow_ref(c, slot), dev_orig, device, kind, float(c["last_ts"][slot]),
        int(c["orig_pkts"][slot] + c["resp_pkts"][slot]),
        int(c["orig_bytes"][slot] + c["resp_bytes"][slot]),
        light.answered_one(slot), int(c["uid"][slot]),
    )  # fmt: skip
    if worded:
        found.evidence = evidence(found, dev_orig)
    return found


def evidence(found: Finding, dev_orig: bool) -> str:
    """The words of a light flow's finding (``dev_orig``: the device opened the flow)."""
    ref = found.flow_ref
    assert ref is not None
    address = ref.orig_addr if dev_orig else ref.resp_addr
    if found.kind == FindingKind.INBOUND:
        said = f"{ref.orig_addr} (outside) to {ref.resp_addr}"
    else:
        said = f"{address} to {found.peer}"
    tail = evidence_tail(found.answered, 1, found.packets, found.bytes)
    return f"{said} port {found.peer_port}/tcp; {tail}"


def _finding(
    ref: FlowRef, dev_orig: bool, device: str | None, kind: FindingKind, last: float,
    packets: int, size: int, answered: bool, uid: int,
) -> Finding:  # fmt: skip
    address, peer = (ref.orig_addr, ref.resp_addr) if dev_orig else (ref.resp_addr, ref.orig_addr)
    return Finding(
        kind=kind, device=address if device is None else device, peer=peer,
        peer_port=ref.resp_port, proto="tcp", peer_name=None, vendor=None, endpoint=None,
        answered=bool(answered), first_ts=ref.first_ts, last_ts=last, packets=packets,
        bytes=size, evidence="", flow_uid=f"F{uid:08d}", flow_ref=ref,
    )  # fmt: skip
