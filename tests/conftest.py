"""Test-wide safety: building frames with scapy never asks the network anything.

scapy fills a missing destination MAC by resolving it (ARP, IPv6 neighbour solicitation)
on the host's network and waits a second for each answer. Tests only build frames, so
the lookups fail at once here and scapy uses the broadcast address (same bytes as after
a timeout). Tests should still give explicit MACs.
"""

from __future__ import annotations

from scapy.config import conf
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

for _l3 in (IP, IPv6):
    conf.neighbor.register_l3(Ether, _l3, lambda l2, l3: None)
