"""The answer to "is the closed network closed?": who crossed it, to where, how much, when."""

from __future__ import annotations

import dataclasses

from monitor.model import AuditResult, DeviceSummary, FindingKind
from monitor.report.answer import answer, answer_sentences, crosses, elapsed_text
from monitor.report.html import render_html
from monitor.report.markdown import md, render_markdown
from tests.unit.report_samples import CAM, NVR, T0, _finding, clean_result, findings_result


def _crossed() -> AuditResult:
    """The sample with findings of every kind; the camera sent 700 B out, the NVR 40 B."""
    result = findings_result()
    nvr, cam = result.devices
    nvr.bytes_by_verdict["inbound"] = 3456
    nvr.bytes_sent_by_verdict = {"inbound": 40, "internal": 9_000}
    cam.bytes_sent_by_verdict = {"egress": 100, "vendor_cloud": 600, "internal": 5_000}
    return result


def test_clean_capture_is_closed() -> None:
    result = clean_result()
    ans = answer(result)
    assert (ans.closed, ans.devices, ans.endpoints, ans.sent) == (True, [], [], 0)
    assert answer_sentences(result, ans) == [
        "Yes: no traffic crossed the boundary of the closed network.",
        "The capture covers 2024-05-01T12:00:00.000Z to 2024-05-01T13:00:00.500Z (1 h).",
    ]


def test_nothing_read_is_no_answer() -> None:
    result = clean_result()
    result.packets = 0
    ans = answer(result)
    assert ans.closed is None
    assert answer_sentences(result, ans) == [
        "Not known: no packet could be read, so this report proves nothing."
    ]


def test_devices_that_crossed_with_bytes_sent_and_times() -> None:
    result = _crossed()
    ans = answer(result)
    assert ans.closed is False
    cam, nvr = ans.devices  # most bytes sent first
    assert (cam.ip, cam.name, nvr.ip) == (CAM, "cam-hansa-01", NVR)
    # the lookup went to the site's resolver and the mapping to the gateway: not crossing;
    # DNS to 8.8.8.8 (no closed-network device) did cross
    assert cam.kinds == ["egress", "vendor_cloud", "external_resolver"]
    assert cam.endpoints == ["hik-connect"]
    assert (cam.sent, cam.sent_by_verdict) == (
        700,
        {"egress": 100, "vendor_cloud": 600, "inbound": 0},
    )
    assert cam.exchanged == 180 + 5_000_000
    assert (cam.first_ts, cam.last_ts) == (T0 + 6, T0 + 22.25)
    assert cam.peers == 2  # 203.0.113.5 (egress and vendor_cloud) and 8.8.8.8
    assert (nvr.kinds, nvr.sent, nvr.peers) == (["inbound"], 40, 1)
    assert (ans.sent, ans.peers, ans.first_ts, ans.last_ts) == (740, 3, T0 + 6, T0 + 52.25)
    assert {f.kind for f in ans.not_crossing} == {
        FindingKind.VENDOR_LOOKUP,
        FindingKind.UPNP_PORT_MAPPING,
    }


def test_sentences_answer_first_with_plurals() -> None:
    result = _crossed()
    first, sent, reached, looked, inside, span = answer_sentences(result, answer(result))
    assert first == (
        "No: 2 devices exchanged traffic with 3 addresses outside the closed network, "
        "from 2024-05-01T12:00:06.000Z to 2024-05-01T12:00:52.250Z."
    )
    assert sent == (
        "They sent 740 bytes out; with the answers, 5,003,636 bytes (4.8 MiB) crossed the boundary."
    )
    assert reached == "1 vendor endpoint reached: hik-connect (hikvision)."
    assert looked == "Looked up but not reached: ezviz (hikvision)."
    assert inside == (
        "2 findings on 1 device stayed inside but need a look (vendor_lookup, upnp_port_mapping)."
    )
    assert span.startswith("The capture covers 2024-05-01T12:00:00.000Z to ")
    result.findings = [f for f in result.findings if f.kind == FindingKind.INBOUND]
    result.devices[1].bytes_by_verdict = {"internal": 1}
    first, *_ = answer_sentences(result, answer(result))
    assert first.startswith("No: 1 device exchanged traffic with 1 address outside the closed")


def test_markdown_escapes_names_from_data_only() -> None:
    result = _crossed()
    sentences = answer_sentences(result, answer(result), md)
    assert "(vendor\\_lookup, upnp\\_port\\_mapping)." in sentences[4]
    assert sentences[2] == "1 vendor endpoint reached: hik-connect (hikvision)."


def test_endpoints_reached_or_only_looked_up() -> None:
    result = _crossed()
    result.findings.append(
        _finding(
            FindingKind.VENDOR_LOOKUP, 40, peer="10.20.0.53", peer_port=53, proto="udp",
            vendor="dahua", endpoint="dahua-p2p", peer_name=None, answered=False,
        )
    )  # fmt: skip
    ans = answer(result)
    assert [(u.endpoint, u.reached) for u in ans.endpoints] == [
        ("hik-connect", True),
        ("ezviz", False),
        ("dahua-p2p", False),
    ]
    hik = ans.endpoints[0]
    assert (hik.names, hik.devices, hik.flows, hik.bytes) == (
        ["dev.hik-connect.com"],
        [CAM],
        1,
        5_000_000,
    )
    looked = answer_sentences(result, ans)[3]  # after: no, sent, reached
    assert looked == "Looked up but not reached: ezviz (hikvision), dahua-p2p (dahua)."


def test_resolver_inside_does_not_cross() -> None:
    result = clean_result()
    resolver = _finding(FindingKind.EXTERNAL_RESOLVER, 6, peer=NVR, peer_port=53, proto="udp")
    assert not crosses(resolver, {d.ip for d in result.devices})
    assert crosses(dataclasses.replace(resolver, peer="192.0.2.53"), {NVR, CAM})
    scan = dataclasses.replace(resolver, peer=None, peers=40, ports=1, sample_peers=[NVR])
    assert not crosses(scan, {NVR})
    assert crosses(dataclasses.replace(scan, sample_peers=[NVR, "192.0.2.1"]), {NVR})


def test_summary_findings_count_their_folded_peers() -> None:
    result = clean_result()
    scan = _finding(FindingKind.EGRESS, 1, peer=None, peers=5_000, ports=2,
                    sample_peers=["192.0.2.1"])  # fmt: skip
    result.findings = [scan, _finding(FindingKind.EGRESS, 2, peer="192.0.2.9")]
    (dev,) = answer(result).devices
    assert dev.peers == 5_001


def test_a_device_only_known_from_findings_still_counts() -> None:
    result = clean_result()
    result.findings = [_finding(FindingKind.EGRESS, 1, device="other")]
    (dev,) = answer(result).devices
    assert (dev.ip, dev.sent, dev.kinds) == ("other", 0, ["egress"])
    result.devices.append(DeviceSummary(ip="other", bytes_by_verdict={"egress": 60}))
    assert answer(result).devices[0].exchanged == 60


def test_elapsed_text() -> None:
    assert elapsed_text(0.5) == "0.5 s"
    assert elapsed_text(224.2) == "3 min 44 s"
    assert elapsed_text(3600.5) == "1 h"
    assert elapsed_text(7500) == "2 h 5 min"
    assert elapsed_text(3 * 86400 + 4 * 3600 + 5) == "3 d 4 h"


def test_a_device_with_several_addresses_is_one_row() -> None:
    result = clean_result()
    cam = result.devices[1]
    cam.addresses = [CAM, "fd20::11"]
    cam.bytes_by_verdict["vendor_cloud"] = 3456
    result.findings = [
        _finding(FindingKind.VENDOR_CLOUD, 1, device="fd20::11", peer="2001:db8::443"),
        _finding(FindingKind.EXTERNAL_RESOLVER, 2, peer="fd20::11", peer_port=53, proto="udp"),
    ]
    (dev,) = answer(result).devices
    assert (dev.ip, dev.name, dev.kinds, dev.exchanged) == (
        CAM,
        "cam-hansa-01",
        ["vendor_cloud"],
        3456,
    )
    assert answer(result).not_crossing == [result.findings[1]]  # its own other address
    html, md_text = render_html(result), render_markdown(result)
    assert "<small>also fd20:<wbr>:<wbr>11</small>" in html
    assert f"| {CAM} (also fd20::11) | cam-hansa-01 |" in md_text


def test_a_resolver_that_never_answered_is_still_inside() -> None:
    result = clean_result()
    result.findings = [_finding(FindingKind.EXTERNAL_RESOLVER, 2, peer="10.20.0.54", peer_port=53)]
    assert answer(result).closed is False  # not a device: taken for outside
    result.silent_hosts = [DeviceSummary(ip="10.20.0.54")]
    assert answer(result).closed is True
