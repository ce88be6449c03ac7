"""The provenance of a report: tool, catalog, policy, inputs, evidence, time, command line.

Built by the command that writes the report (it reads the clock and hashes the policy
and evidence files; the inputs were hashed while they were read). ``verify`` checks the
hashes again later (:mod:`monitor.commands.verify_cmd`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from monitor import __version__
from monitor.audit import Provenance
from monitor.capture.hashing import sha256_file


def build_provenance(
    policy_path: str | None,
    catalog_version: str,
    argv: Sequence[str] | None = None,
    now: datetime | None = None,
) -> Provenance:
    """The provenance of a report made now, under the policy file ``policy_path`` (None:
    the built-in default) with the arguments ``argv`` (default: this process's)."""
    args = list(sys.argv[1:] if argv is None else argv)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return Provenance(
        tool_version=__version__,
        catalog_version=catalog_version,
        policy_path=policy_path,
        policy_sha256=_sha256_or_none(policy_path) if policy_path else None,
        generated=stamp.isoformat().replace("+00:00", "Z"),
        command_line=["cctv-monitor", *args],
    )


def add_evidence(prov: Provenance, path: str | os.PathLike[str], packets: int) -> None:
    """Note the evidence pcap (written and closed by now) with its SHA-256."""
    prov.evidence_path = os.fspath(path)
    prov.evidence_sha256 = _sha256_or_none(path)
    prov.evidence_packets = int(packets)


def _sha256_or_none(path: str | os.PathLike[str]) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None
