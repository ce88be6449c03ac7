"""EVE flow events: one JSON line per flow at its end (``event_type: "flow"``).

:func:`flow_line` words one FlowState; :func:`row_lines` words many light-flow rows with
one template and columns (no Python object per flow: a flood's million SYNs), and writes
exactly what :func:`flow_line` would for the same flow (tests/unit/test_eve.py holds the
two to each other). Fields as Suricata's flow events: the 5-tuple (orig as ``src``),
``flow`` (packets and bytes to server = from the originator, to client = from the
responder; ``start``, ``end``, ``age`` in whole seconds, ``state``, ``reason``,
``alerted``), ``tcp`` (flags in hex, both ways and each way, and a boolean per flag seen),
``app_proto`` when a dissector recognised one; our own ``uid``, ``verdict`` and
``end_reason`` go in ``metadata.flowvars`` (the top level takes no other keys).
"""

from __future__ import annotations

import json
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify.light_rules import VERDICTS
from monitor.flow.community_id import (
    community_hashes_v4,
    flow_ids,
    flow_ref,
    render_many,
)
from monitor.flow.light import LightFlows
from monitor.flow.state import TCP_FIN, TCP_RST, FlowState
from monitor.model import EndReason
from monitor.report.eve import APP_PROTO, dumps, eve_time, eve_times, tuple_fields

I64 = npt.NDArray[np.int64]
# Suricata's flow.reason: a closed TCP flow still ends by timing out there
REASONS = {
    EndReason.IDLE_TIMEOUT: "timeout",
    EndReason.TCP_CLOSE: "timeout",
    EndReason.EVICTED: "forced",
    EndReason.END_OF_INPUT: "shutdown",
    EndReason.ACTIVE_TIMEOUT: "timeout",  # never written: the flow goes on
}
_FLAG_NAMES = ((0x01, "fin"), (0x02, "syn"), (0x04, "rst"), (0x08, "psh"), (0x10, "ack"),
               (0x20, "urg"), (0x40, "ecn"), (0x80, "cwr"))  # fmt: skip


def flow_state(proto: int, flags: int, answered: bool) -> str:
    """Suricata's flow.state: ``closed`` (a TCP FIN or RST), ``established`` (the responder
    sent something), else ``new``."""
    if proto == 6 and flags & (TCP_FIN | TCP_RST):
        return "closed"
    return "established" if answered else "new"


def tcp_object(orig_flags: int, resp_flags: int) -> dict[str, Any]:
    """Suricata's ``tcp``: the flags seen (hex, both ways, from client, from server) and
    ``true`` for each flag seen."""
    both = orig_flags | resp_flags
    out: dict[str, Any] = {
        "tcp_flags": f"{both:02x}",
        "tcp_flags_ts": f"{orig_flags:02x}",
        "tcp_flags_tc": f"{resp_flags:02x}",
    }
    for bit, name in _FLAG_NAMES:
        if both & bit:
            out[name] = True
    return out


def flowvars(uid: str, verdict: str, reason: EndReason) -> dict[str, Any]:
    """Our own words for the flow, as Suricata's ``metadata.flowvars``."""
    pairs = (("cctv.uid", uid), ("cctv.verdict", verdict), ("cctv.end_reason", str(reason)))
    return {"flowvars": [{"key": k, "value": v} for k, v in pairs if v]}


def flow_event(flow: FlowState, reason: EndReason, host: str) -> dict[str, Any]:
    """The EVE flow event of ``flow``, ended for ``reason`` (``host``: the site)."""
    ref = flow_ref(flow)
    event: dict[str, Any] = {
        "timestamp": eve_time(flow.last_ts),
        "flow_id": ref.flow_id,
        "event_type": "flow",
        **tuple_fields(ref),
        "host": host,
    }
    app = [APP_PROTO[w] for w, _, _ in ref.app if w in APP_PROTO]
    if app:
        event["app_proto"] = app[0]
    answered = flow.resp_pkts - flow.icmp_errors > 0
    event["flow"] = {
        "pkts_toserver": flow.orig_pkts,
        "pkts_toclient": flow.resp_pkts,
        "bytes_toserver": flow.orig_bytes,
        "bytes_toclient": flow.resp_bytes,
        "start": eve_time(flow.first_ts),
        "end": eve_time(flow.last_ts),
        "age": int(flow.last_ts - flow.first_ts),
        "state": flow_state(flow.proto, flow.orig_flags | flow.resp_flags, answered),
        "reason": REASONS[reason],
        "alerted": bool(flow.finding_kinds),
    }
    if flow.proto == 6:
        event["tcp"] = tcp_object(flow.orig_flags, flow.resp_flags)
    event["metadata"] = flowvars(flow.uid, flow.verdict, reason)
    return event


def flow_line(flow: FlowState, reason: EndReason, host: str) -> str:
    """:func:`flow_event` as one line."""
    return dumps(flow_event(flow, reason, host))


# light flows are IPv4 TCP without payload: one template, the varying parts as columns
_ROW = (
    '{"timestamp":"%s","flow_id":%d,"event_type":"flow","src_ip":"%d.%d.%d.%d","src_port":%d,'
    '"dest_ip":"%d.%d.%d.%d","dest_port":%d,"proto":"TCP","community_id":"%s","host":%s,'
    '"flow":{"pkts_toserver":%d,"pkts_toclient":%d,"bytes_toserver":%d,"bytes_toclient":%d,'
    '"start":"%s","end":"%s","age":%d,"state":"%s","reason":"%s","alerted":%s},'
    '"tcp":{"tcp_flags":"%02x","tcp_flags_ts":"%02x","tcp_flags_tc":"%02x"%s},'
    '"metadata":{"flowvars":[{"key":"cctv.uid","value":"F%08d"},'
    '{"key":"cctv.verdict","value":"%s"},{"key":"cctv.end_reason","value":"%s"}]}}\n'
)
_FLAG_TEXT = [
    "".join(f',"{name}":true' for bit, name in _FLAG_NAMES if flags & bit) for flags in range(256)
]


def row_lines(light: LightFlows, slots: I64, reason: EndReason, host: str) -> list[str]:
    """:func:`flow_line` of each light flow row in ``slots`` (settled rows)."""
    if not slots.size:
        return []
    c = light.cols
    get = {name: c[name][slots] for name in (
        "proto", "orig_addr", "orig_port", "resp_addr", "resp_port", "first_ts", "last_ts",
        "orig_pkts", "resp_pkts", "orig_bytes", "resp_bytes", "orig_flags", "resp_flags",
        "resp_errors", "uid", "verdict", "flagged",
    )}  # fmt: skip
    digests = community_hashes_v4(
        get["proto"], get["orig_addr"], get["orig_port"], get["resp_addr"], get["resp_port"]
    )
    first, last = get["first_ts"], get["last_ts"]
    flags = get["orig_flags"] | get["resp_flags"]
    answered = get["resp_pkts"] - get["resp_errors"] > 0
    state = np.where((flags & (TCP_FIN | TCP_RST)) != 0, 2, np.where(answered, 1, 0))
    ends = eve_times(last)
    columns = (  # in the template's order
        ends,
        flow_ids(digests, first).tolist(),
        *_octets(get["orig_addr"]),
        get["orig_port"].tolist(),
        *_octets(get["resp_addr"]),
        get["resp_port"].tolist(),
        render_many(digests),
        repeat(json.dumps(host)),
        get["orig_pkts"].tolist(),
        get["resp_pkts"].tolist(),
        get["orig_bytes"].tolist(),
        get["resp_bytes"].tolist(),
        eve_times(first),
        ends,
        (last - first).astype(np.int64).tolist(),
        np.asarray(["new", "established", "closed"])[state].tolist(),
        repeat(REASONS[reason]),
        np.where(get["flagged"], "true", "false").tolist(),
        flags.tolist(),
        get["orig_flags"].tolist(),
        get["resp_flags"].tolist(),
        [_FLAG_TEXT[f] for f in flags.tolist()],
        get["uid"].tolist(),
        [VERDICTS[v].value for v in get["verdict"].tolist()],
        repeat(str(reason)),
    )
    return [_ROW % row for row in zip(*columns)]  # noqa: B905 (repeat() has no end)


def _octets(addrs: npt.NDArray[np.uint64]) -> list[list[int]]:
    """The four octets of IPv4 addresses, as four lists."""
    a = addrs.astype(np.int64)
    return [((a >> shift) & 255).tolist() for shift in (24, 16, 8, 0)]
