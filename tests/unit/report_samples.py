"""Hand-built AuditResults shared by the report tests: a clean one and one with everything."""

from __future__ import annotations

from monitor.model import (
    AuditResult,
    DeviceSummary,
    EndReason,
    Finding,
    FindingKind,
    FlowRecord,
    InputSummary,
    Verdict,
)

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z
CAM = "10.20.0.11"
NVR = "10.20.0.2"
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_PATH = '/captures/a&b"<c>.pcap'


def clean_result() -> AuditResult:
    """One intact input, two devices talking only to each other."""
    inp = InputSummary(
        path="/captures/day1.pcapng",
        packets=1000,
        bytes=1_500_000,
        first_ts=T0,
        last_ts=T0 + 3600.5,
        format="pcapng",
    )
    devices = [
        DeviceSummary(
            ip=NVR,
            name="nvr-1",
            role="recorder",
            packets=500,
            bytes=50_000,
            flows=1,
            first_ts=T0,
            last_ts=T0 + 3600.5,
            bytes_by_verdict={"internal": 50_000},
        ),
        DeviceSummary(
            ip=CAM,
            name="cam-hansa-01",
            vendor="hikvision",
            role="camera",
            mac="c0:56:e3:00:00:01",
            packets=500,
            bytes=1_450_000,
            flows=1,
            first_ts=T0,
            last_ts=T0 + 3600.5,
            bytes_by_verdict={"internal": 1_440_000, "discovery": 10_000},
        ),
    ]
    return AuditResult(
        site="hamburg-hansaplatz",
        inputs=[inp],
        packets=1000,
        bytes=1_500_000,
        flow_count=2,
        devices=devices,
        findings=[],
        flows=[],
    )


def _finding(kind: FindingKind, offset: float, **kw: object) -> Finding:
    base: dict[str, object] = {
        "kind": kind,
        "device": CAM,
        "peer": "203.0.113.5",
        "peer_port": 443,
        "proto": "tcp",
        "peer_name": None,
        "vendor": None,
        "endpoint": None,
        "answered": True,
        "first_ts": T0 + offset,
        "last_ts": T0 + offset + 2.25,
        "packets": 12,
        "bytes": 3456,
        "evidence": f"{kind} seen",
        "flow_uid": f"F{int(offset)}",
    }
    base.update(kw)
    return Finding(**base)  # type: ignore[arg-type]


def every_finding() -> list[Finding]:
    """One finding of each kind, some on the NVR, one hostile name."""
    return [
        _finding(FindingKind.INBOUND, 50, peer="198.51.100.7", peer_port=8000, device=NVR),
        _finding(
            FindingKind.EGRESS,
            10,
            answered=False,
            packets=3,
            bytes=180,
            evidence="SYN to 203.0.113.5:443, no answer",
        ),
        _finding(
            FindingKind.VENDOR_CLOUD,
            20,
            peer_name="dev.hik-connect.com",
            vendor="hikvision",
            endpoint="hik-connect",
            bytes=5_000_000,
            evidence="TLS SNI dev.hik-connect.com",
        ),
        _finding(
            FindingKind.VENDOR_LOOKUP,
            5,
            peer="10.20.0.53",
            peer_port=53,
            proto="udp",
            peer_name="ezviz7.com",
            vendor="hikvision",
            endpoint="ezviz",
            evidence="DNS A? ezviz7.com | *evil* [x](y)",
        ),
        _finding(
            FindingKind.EXTERNAL_RESOLVER,
            6,
            peer="8.8.8.8",
            peer_port=53,
            proto="udp",
            peer_name=HOSTILE_NAME,
            evidence="DNS to 8.8.8.8\nsecond line",
        ),
        _finding(
            FindingKind.UPNP_PORT_MAPPING,
            30,
            peer="10.20.0.1",
            peer_port=None,
            proto="icmp",
            evidence="AddPortMapping 8000 -> 10.20.0.11:8000",
        ),
    ]


def findings_result() -> AuditResult:
    """Two inputs (one damaged, hostile path), findings of every kind, flows."""
    result = clean_result()
    damaged = InputSummary(
        path=HOSTILE_PATH,
        packets=10,
        bytes=2000,
        first_ts=T0 + 4000,
        last_ts=T0 + 4001,
        truncated=True,
        errors=["record 11: truncated <header>"],
        format="pcap",
        undecodable=2,
    )
    result.inputs.append(damaged)
    result.findings = every_finding()
    result.devices[1].findings = 5
    result.devices[1].bytes_by_verdict.update({"egress": 180, "vendor_cloud": 5_000_000})
    result.devices[0].findings = 1
    result.flows = sample_flows()
    return result


def sample_flows() -> list[FlowRecord]:
    """Two flows: an internal RTSP stream and an unanswered flagged one."""
    return [
        FlowRecord(
            uid="C1",
            proto="tcp",
            orig_addr=NVR,
            orig_port=50000,
            resp_addr=CAM,
            resp_port=554,
            first_ts=T0,
            last_ts=T0 + 60.5,
            orig_pkts=100,
            orig_bytes=8000,
            resp_pkts=900,
            resp_bytes=1_200_000,
            state="SF",
            verdict=Verdict.INTERNAL,
            device=NVR,
            peer=CAM,
            peer_name=None,
            vendor=None,
            endpoint=None,
            end_reason=EndReason.TCP_CLOSE,
        ),
        FlowRecord(
            uid="C2",
            proto="tcp",
            orig_addr=CAM,
            orig_port=40000,
            resp_addr="203.0.113.5",
            resp_port=443,
            first_ts=T0 + 20,
            last_ts=T0 + 22.25,
            orig_pkts=6,
            orig_bytes=900,
            resp_pkts=6,
            resp_bytes=4_999_100,
            state="S0",
            verdict=Verdict.VENDOR_CLOUD,
            device=CAM,
            peer="203.0.113.5",
            peer_name="dev.hik-connect.com",
            vendor="hikvision",
            endpoint="hik-connect",
            end_reason=EndReason.END_OF_INPUT,
            findings=(FindingKind.VENDOR_CLOUD, FindingKind.EGRESS),
        ),
    ]
