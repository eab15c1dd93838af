"""Config checks of `inference_gateway` (the Gateway API Inference Extension routing)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ..catalog.gateways import GATEWAY_CLASSES, gateway_class

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
    if config.tls.enabled:
        # InferencePool v1's appProtocol is `http` or `kubernetes.io/h2c` only (api/v1/inferencepool_types.go
        # @v1.5.0:112-123): the gateway cannot speak TLS to the model pods, whose every port serves TLS.
        problems.append("inference_gateway.enabled: the Gateway API Inference Extension v1.5.0 reaches the model pods "
                        "over http or h2c only (InferencePool appProtocol), and every model port speaks TLS; "
                        "set tls.enabled: false to route through it, got both on")
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
