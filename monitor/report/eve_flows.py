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
from collections.abc import Callable, Iterator
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
from monitor.flow.key import v4_text
from monitor.flow.light import LightFlows
from monitor.flow.state import TCP_FIN, TCP_RST, FlowState
from monitor.model import EndReason
from monitor.report.eve import APP_PROTO, dumps, eve_time, tuple_fields

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


def flow_event(
    flow: FlowState, reason: EndReason, host: str, uid_prefix: str = ""
) -> dict[str, Any]:
    """The EVE flow event of ``flow``, ended for ``reason`` (``host``: the site;
    ``uid_prefix``: a capture worker's, as on its findings' ``flow_uid``)."""
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
    event["metadata"] = flowvars(uid_prefix + flow.uid, flow.verdict, reason)
    return event


def flow_line(flow: FlowState, reason: EndReason, host: str, uid_prefix: str = "") -> str:
    """:func:`flow_event` as one line."""
    return dumps(flow_event(flow, reason, host, uid_prefix))


# light flows are IPv4 TCP without payload: one template per call (the call's constants
# filled in), the varying parts as columns; texts that repeat (addresses, seconds, flags)
# are made once per distinct value
_ROW = (
    '{"timestamp":"%s.%06d+0000","flow_id":%d,"event_type":"flow","src_ip":"%s","src_port":%d,'
    '"dest_ip":"%s","dest_port":%d,"proto":"TCP","community_id":"%s","host":@HOST@,'
    '"flow":{"pkts_toserver":%d,"pkts_toclient":%d,"bytes_toserver":%d,"bytes_toclient":%d,'
    '"start":"%s.%06d+0000","end":"%s.%06d+0000","age":%d,"state":"%s","reason":"@REASON@",'
    '"alerted":%s},"tcp":{%s},"metadata":{"flowvars":[{"key":"cctv.uid","value":"@UID@F%08d"},'
    '{"key":"cctv.verdict","value":"%s"},{"key":"cctv.end_reason","value":"@END@"}]}}\n'
)
CHUNK_ROWS = 16_384  # rows worded at once: a flood's million ending flows in bounded memory
_STATES = np.asarray(["new", "established", "closed"], dtype=object)
_ALERTED = np.asarray(["false", "true"], dtype=object)
_VERDICT_NAMES = np.asarray([v.value for v in VERDICTS], dtype=object)


def row_lines(
    light: LightFlows, slots: I64, reason: EndReason, host: str, uid_prefix: str = ""
) -> list[str]:
    """:func:`flow_line` of each light flow row in ``slots`` (settled rows)."""
    return [line for chunk in row_chunks(light, slots, reason, host, uid_prefix) for line in chunk]


def row_chunks(
    light: LightFlows, slots: I64, reason: EndReason, host: str, uid_prefix: str = ""
) -> Iterator[list[str]]:
    """:func:`row_lines` in chunks of at most CHUNK_ROWS lines."""
    template = _ROW
    for mark, value in (
        ("@REASON@", REASONS[reason]),
        ("@UID@", uid_prefix),
        ("@END@", str(reason)),
        ("@HOST@", json.dumps(host)),
    ):  # host last
        template = template.replace(mark, value.replace("%", "%%"))
    for start in range(0, slots.size, CHUNK_ROWS):
        yield _chunk(light, slots[start : start + CHUNK_ROWS], template)


def _chunk(light: LightFlows, slots: I64, template: str) -> list[str]:
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
    ofl, rfl = get["orig_flags"], get["resp_flags"]
    answered = get["resp_pkts"] - get["resp_errors"] > 0
    state = np.where(((ofl | rfl) & (TCP_FIN | TCP_RST)) != 0, 2, np.where(answered, 1, 0))
    end_s, end_us = _seconds(last)
    start_s, start_us = _seconds(first)
    columns = (  # in the template's order
        end_s, end_us,
        flow_ids(digests, first).tolist(),
        _distinct(get["orig_addr"], v4_text), get["orig_port"].tolist(),
        _distinct(get["resp_addr"], v4_text), get["resp_port"].tolist(),
        render_many(digests),
        get["orig_pkts"].tolist(), get["resp_pkts"].tolist(),
        get["orig_bytes"].tolist(), get["resp_bytes"].tolist(),
        start_s, start_us, end_s, end_us,
        (last - first).astype(np.int64).tolist(),
        _STATES[state].tolist(),
        _ALERTED[get["flagged"].astype(np.int64)].tolist(),
        _distinct(ofl << 8 | rfl, _tcp_text),
        get["uid"].tolist(),
        _VERDICT_NAMES[get["verdict"]].tolist(),
    )  # fmt: skip
    return [template % row for row in zip(*columns, strict=True)]


def _seconds(ts: npt.NDArray[np.float64]) -> tuple[list[str], list[int]]:
    """Times as Suricata's text up to the second, and the microseconds, as two lists."""
    micros = np.round(ts * 1e6).astype(np.int64)
    seconds = micros // 1_000_000
    texts = _distinct(seconds, _second_text)
    return texts, (micros - seconds * 1_000_000).tolist()


def _second_text(second: int) -> str:
    return str(np.datetime_as_string(np.datetime64(second, "s"), unit="s"))


def _tcp_text(pair: int) -> str:
    """The inside of the ``tcp`` object for flags ``orig << 8 | resp``."""
    text = json.dumps(tcp_object(pair >> 8, pair & 255), separators=(",", ":"))
    return text[1:-1]


def _distinct(values: np.ndarray, text: Callable[[int], str]) -> list[str]:
    """``text`` of each value, made once per distinct value."""
    uniq, inverse = np.unique(values, return_inverse=True)
    names = np.asarray([text(v) for v in uniq.tolist()], dtype=object)
    return names[inverse.reshape(-1)].tolist()  # type: ignore[no-any-return]
