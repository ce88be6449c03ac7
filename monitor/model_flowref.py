"""The flow a finding cites, as SIEM events name it (re-exported by :mod:`monitor.model`).

Kept apart from :mod:`monitor.model` so that module stays small.
"""

from __future__ import annotations

from typing import NamedTuple


class FlowRef(NamedTuple):
    """The one flow a finding's ``flow_uid`` names: what its EVE alert line needs.

    Orig side first (the initiator: Suricata's ``src``). For ICMP the ports are the type
    and code of the originator's first message, as Community ID takes them. ``flow_id``
    and ``community_id`` are those of :mod:`monitor.flow.community_id` (``community_id``
    None: an ICMP flow whose first message header was not captured). ``app`` is what the
    dissectors read in the flow, the first of each kind: (``sni``, ``quic_sni``,
    ``http_host``, ``user_agent``, ``dns_query`` or ``tls_no_sni``; value; detail, e.g.
    the DNS query type).
    """

    flow_id: int
    community_id: str | None
    proto: int
    orig_addr: str
    orig_port: int
    resp_addr: str
    resp_port: int
    first_ts: float
    app: tuple[tuple[str, str, str], ...] = ()
