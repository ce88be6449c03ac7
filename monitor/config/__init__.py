"""Site policy (CONTRACT.md §2): strict YAML loading that names file, line and key, fast lookups."""

from monitor.config.policy import (
    CACHE_MAX,
    DEFAULT_CLOSED,
    PROTOS,
    ROLES,
    SERVICE_KINDS,
    AllowRule,
    DeviceEntry,
    Limits,
    MirrorPorts,
    Network,
    Policy,
    Services,
    addr_key,
    default_policy,
    describe_policy,
    fmt_net,
    net_key,
)

__all__ = [
    "CACHE_MAX",
    "DEFAULT_CLOSED",
    "PROTOS",
    "ROLES",
    "SERVICE_KINDS",
    "AllowRule",
    "DeviceEntry",
    "Limits",
    "MirrorPorts",
    "Network",
    "Policy",
    "Services",
    "addr_key",
    "default_policy",
    "describe_policy",
    "fmt_net",
    "load_policy",
    "net_key",
]


def load_policy(path: str) -> Policy:
    """Read and validate a site policy file (see :func:`monitor.config.loader.load_policy`).

    The loader (and with it yaml) is imported on first use: a replay under the built-in
    policy never needs it.
    """
    from monitor.config.loader import load_policy as load

    return load(path)
