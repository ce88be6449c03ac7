"""Resolving a device's facts from the evidence the traffic gave and the inventory declared.

:func:`resolve` weighs each candidate value of a fact by the confidence of its sources;
:func:`apply_facts` sets a device's facts from them, lets the site inventory win, and
records where the two disagree.
"""

from __future__ import annotations

from monitor.classify import device_rules as rules
from monitor.config import DeviceEntry
from monitor.model import DeviceFact, DeviceSummary, FactConflict

RESOLVED = ("vendor", "model", "firmware", "serial", "role", "hostname")
INVENTORY_FACTS = ("vendor", "model", "firmware", "serial", "role", "mac")
MAX_EVIDENCE = 32
_FACT_ORDER = {f: i for i, f in enumerate((*RESOLVED, "mac", "router_mac", "software"))}
_CONF_ORDER = {c: i for i, c in enumerate((rules.DECLARED, rules.HIGH, rules.MEDIUM, rules.LOW))}


def resolve(evidence: list[DeviceFact], name: str) -> tuple[str, DeviceFact] | None:
    """The value of fact ``name`` with the most weight behind it, and its strongest source."""
    scores: dict[str, int] = {}
    best: dict[str, DeviceFact] = {}
    for f in evidence:
        if f.fact != name:
            continue
        key = f.value.lower()
        scores[key] = scores.get(key, 0) + rules.WEIGHT.get(f.confidence, 1)
        if key not in best or rules.WEIGHT[f.confidence] > rules.WEIGHT[best[key].confidence]:
            best[key] = f
    if not scores:
        return None
    order = rules.ROLE_TIE_ORDER if name == "role" else ()

    def rank(key: str) -> tuple[int, int]:
        return scores[key], -(order.index(key) if key in order else len(order))

    top = max(scores, key=rank)
    return best[top].value, best[top]


def _derived(evidence: list[DeviceFact]) -> list[DeviceFact]:
    """Role from the model's naming once vendor and model are known."""
    vendor, model = resolve(evidence, "vendor"), resolve(evidence, "model")
    if model is None:
        return []
    role = rules.role_for_model(vendor[0] if vendor else None, model[0])
    return rules.collect(rules.fact("role", role, f"model naming {model[0]!r}", rules.MEDIUM))


def apply_facts(dev: DeviceSummary, evidence: list[DeviceFact], entry: DeviceEntry | None) -> None:
    """Set ``dev``'s facts from ``evidence``; inventory values win, disagreements recorded."""
    evidence = evidence + _derived(evidence)
    guesses = {name: resolve(evidence, name) for name in RESOLVED}
    declared: list[DeviceFact] = []
    conflicts: list[FactConflict] = []
    for name, guess in guesses.items():
        value = getattr(entry, name, None) if entry is not None and name != "hostname" else None
        if value is not None:
            declared.append(DeviceFact(name, str(value), "site inventory", rules.DECLARED))
            if guess is not None and guess[0].lower() != str(value).lower():
                conflicts.append(_conflict(name, str(value), guess[0], evidence))
        setattr(dev, name, value if value is not None else guess[0] if guess else None)
    if entry is not None and entry.mac is not None:
        declared.append(DeviceFact("mac", entry.mac, "site inventory", rules.DECLARED))
    for f in evidence:
        if f.fact == "mac" and entry is not None and entry.mac and f.value != entry.mac:
            conflicts.append(FactConflict("mac", entry.mac, f.value, f.source, f.confidence))
            break
    if dev.mac is None:
        mac = resolve(evidence, "mac")
        dev.mac = mac[0] if mac else None
    dev.evidence = (declared + ordered(evidence))[:MAX_EVIDENCE]
    dev.conflicts = conflicts


def _conflict(name: str, declared: str, observed: str, evidence: list[DeviceFact]) -> FactConflict:
    """The traffic's value for ``name`` against the inventory's, with its three best sources."""
    support = ordered(
        [f for f in evidence if f.fact == name and f.value.lower() == observed.lower()]
    )
    sources = "; ".join(f.source for f in support[:3])
    return FactConflict(name, declared, observed, sources, support[0].confidence)


def ordered(evidence: list[DeviceFact]) -> list[DeviceFact]:
    """Strongest first; equals by value and source, so the order does not depend on the
    order the flows that told them ended in (nor on how a replay was partitioned)."""
    unique = list(dict.fromkeys(evidence))
    return sorted(
        unique,
        key=lambda f: (
            _FACT_ORDER.get(f.fact, 99),
            _CONF_ORDER.get(f.confidence, 9),
            f.value,
            f.source,
        ),
    )
