"""Config checks of `inference_gateway` (the Gateway API Inference Extension routing)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ..catalog.gateways import GATEWAY_CLASSES, gateway_class
from ..catalog.hop_tls import GATEWAY_TO_POOL

if TYPE_CHECKING:
    from .models import StackConfig


def config_problems(config: StackConfig) -> list[str]:
    """One line per problem with `inference_gateway`, naming the field."""
    gw = config.inference_gateway
    problems: list[str] = []
    for i, cidr in enumerate(gw.source_cidrs):
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError:
            problems.append(f"inference_gateway.source_cidrs[{i}]: expected a CIDR, got {cidr[:64]!r}")
            continue
        if not network.is_private or network.is_link_local:
            problems.append(f"inference_gateway.source_cidrs[{i}]: expected a private range (the load balancer's "
                            f"proxies), got {cidr!r}")
    if not gw.enabled:
        return problems
    if config.tls.enabled and not GATEWAY_TO_POOL.encrypted:
        # The gateway cannot speak TLS to the model pods, whose every port serves TLS (the sourced row).
        problems.append("inference_gateway.enabled: the gateway reaches an InferencePool's pods over http or h2c "
                        "only (InferencePool appProtocol at GAIE v1.5.0 and v1.6.0; no BackendTLSPolicy for an "
                        "InferencePool documented for the class: llm_infra.catalog.hop_tls.GATEWAY_TO_POOL), and "
                        "every model port speaks TLS; set tls.enabled: false to route through it, got both on")
    name = gateway_class(config)
    if name is None:
        problems.append(f"inference_gateway.gateway_class: required on cloud {config.cloud!r} (the GatewayClass of an "
                        "implementation that supports InferencePool and provisions internal load balancers), got nothing")
    known = {c.name: c for c in GATEWAY_CLASSES if c.cloud == config.cloud}
    fact = known.get(name or "")
    if fact is not None and not fact.internal:
        internal = sorted(c.name for c in known.values() if c.internal and c.inference_pool)
        problems.append(f"inference_gateway.gateway_class: expected an internal load balancer's class {internal}, "
                        f"got {name!r} (reachable from outside the network)")
    elif fact is not None and not fact.inference_pool:
        problems.append(f"inference_gateway.gateway_class: {name!r} does not support InferencePool backends; expected "
                        f"{sorted(c.name for c in known.values() if c.internal and c.inference_pool)}")
    from .models import cloud_plugin

    plugin = cloud_plugin(config.cloud)
    if plugin is not None:
        problems += plugin.gateway_problems(config, name)
    model_namespaces = {m.namespace for m in config.models}
    if gw.namespace in model_namespaces or gw.namespace == config.monitoring.namespace:
        problems.append(f"inference_gateway.namespace: expected a namespace of its own, got {gw.namespace!r} "
                        "(a model's or monitoring's)")
    return problems


def listener_tls(config: StackConfig) -> bool:
    """The stack's Gateway listens with HTTPS (a cert-manager certificate): on unless `plaintext_listener`."""
    gw = config.inference_gateway
    return gw.enabled and not gw.plaintext_listener


def issues_certificates(config: StackConfig) -> bool:
    """The stack needs a ClusterIssuer (cert-manager): the model pods serve TLS, or the Gateway's listener does."""
    return config.tls.enabled or listener_tls(config)
