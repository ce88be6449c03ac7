"""Reload on SIGHUP: the policy (kept on error, a good one swapped into a pipeline) and the
metrics endpoint's web config (TLS certificate and key, basic-auth users)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from monitor.classify.devices import DeviceBook
from monitor.config import Policy, default_policy, load_policy
from monitor.exporter.server import MetricsServer
from monitor.exporter.webconfig import load_web_config
from monitor.model import ConfigError, MonitorError
from monitor.pipeline import Pipeline

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReloadState:
    """The outcome of the last (re)load: the gauges ``cctv_config_last_reload_*``."""

    ok: bool = True
    success_ts: float | None = None


def load_new_policy(path: str | None, state: ReloadState) -> Policy | None:
    """The policy at ``path`` (built-in default without a path), or None when it is unusable.

    A failure is logged with the reason and leaves ``state.ok`` False; the caller keeps
    running on its current policy.
    """
    try:
        policy = load_policy(path) if path else default_policy()
    except (MonitorError, ValueError, OSError) as exc:
        state.ok = False
        log.error("policy reload failed, keeping the previous policy: %s", exc)
        return None
    state.ok = True
    state.success_ts = time.time()
    for warning in policy.warnings:
        log.warning("policy: %s", warning)
    log.warning("policy reloaded from %s (site %s)", path or "built-in default", policy.site)
    return policy


def apply_policy(pipe: Pipeline, policy: Policy) -> None:
    """Use ``policy`` for flows that settle from now on.

    Settled flows keep their verdict and labels. Classifier and device book switch to
    the new policy; the device book is rebuilt (its label cache holds old inventory
    names), keeping every closed-network host already seen and the MAC it sent from.
    """
    book = DeviceBook.carry_over(pipe.devices, policy)
    pipe.policy = policy
    pipe.classifier.policy = policy
    pipe.devices = book


def reload_web_config(server: MetricsServer | None, state: ReloadState) -> None:
    """Read the ``--web-config`` file again and serve with it: new connections get its
    certificate, every request is checked against its users.

    A file that does not parse or whose TLS files do not load is logged (naming the file
    and the key) and leaves ``state.ok`` False; the endpoint keeps the config it had.
    Without ``--web-config`` there is nothing to read.
    """
    current = server.web if server is not None else None
    if server is None or current is None or current.source is None:
        return
    try:
        server.reload(load_web_config(current.source))
    except ConfigError as exc:
        state.ok = False
        log.error("web config reload failed, keeping the previous one: %s", exc)
        return
    log.warning("web config reloaded from %s", current.source)
