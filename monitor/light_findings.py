"""Light flows' findings straight from their columns, without a FlowState.

The light path raises findings for floods of payload-free TCP flows; building a
FlowState for each only to word one finding is what made a stop in the middle of a SYN
flood take seconds. :func:`light_findings` words many rows at once, as
:func:`~monitor.classify.evidence.make_finding` words each row's FlowState (tests hold
the two to each other); ``worded=False`` leaves the evidence empty (a summary folds it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from monitor.classify.evidence import evidence_tail
from monitor.flow.community_id import community_hashes_v4, flow_ids, render_many
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
    does after wording."""
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
        o_text, r_text = v4_text(o), v4_text(r)
        address, peer = (o_text, r_text) if dev_orig else (r_text, o_text)
        evidence = ""
        if worded:
            said = f"{o_text} (outside) to {r_text}" if kind == FindingKind.INBOUND else (
                f"{address} to {peer}")  # fmt: skip
            tail = evidence_tail(bool(answered), 1, packets, size)
            evidence = f"{said} port {rp}/tcp; {tail}"
        out.append(Finding(
            kind=kind, device=address if device is None else device, peer=peer,
            peer_port=rp, proto="tcp", peer_name=None, vendor=None, endpoint=None,
            answered=bool(answered), first_ts=ts, last_ts=last, packets=packets,
            bytes=size, evidence=evidence, flow_uid=f"F{uid:08d}",
            flow_ref=FlowRef(fid, cid, proto, o_text, op, r_text, rp, ts, ()),
        ))  # fmt: skip
    return out


def light_finding(
    light: LightFlows, slot: int, device: str | None, kind: FindingKind, worded: bool = True
) -> Finding:
    """:func:`light_findings` of one row."""
    rows = np.asarray([slot], dtype=np.int64)
    return light_findings(light, rows, [device], [kind], worded)[0]
