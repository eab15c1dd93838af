"""Facts about Gateway API implementations that route to an InferencePool: which GatewayClass of
each cloud is internal and supports InferencePool backends, and how a Service's load balancer is
made internal. Sources and the date read are in each row. Pure Python (config checks read it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import StackConfig

READ_ON = "2026-12-01"


@dataclass(frozen=True)
class GatewayClassFact:
    cloud: str
    name: str
    internal: bool
    inference_pool: bool
    source: str


_GKE_CLASSES = ("https://docs.cloud.google.com/kubernetes-engine/docs/how-to/gatewayclass-capabilities "
                f"(read {READ_ON})")
_GKE_INFERENCE = ("https://llm-d.ai/docs/infrastructure/gateway/gke and the GKE Inference Gateway pages "
                  f"(regional external and regional internal Application Load Balancers; read {READ_ON})")
GATEWAY_CLASSES: tuple[GatewayClassFact, ...] = (
    GatewayClassFact("gcp", "gke-l7-rilb", True, True, f"{_GKE_CLASSES}; {_GKE_INFERENCE}"),
    GatewayClassFact("gcp", "gke-l7-regional-external-managed", False, True, f"{_GKE_CLASSES}; {_GKE_INFERENCE}"),
    GatewayClassFact("gcp", "gke-l7-global-external-managed", False, False, _GKE_CLASSES),
    GatewayClassFact("gcp", "gke-l7-gxlb", False, False, _GKE_CLASSES),
    GatewayClassFact("gcp", "gke-l7-rilb-mc", True, False, _GKE_CLASSES),
    GatewayClassFact("gcp", "gke-l7-global-external-managed-mc", False, False, _GKE_CLASSES),
    GatewayClassFact("gcp", "gke-l7-regional-external-managed-mc", False, False, _GKE_CLASSES),
    GatewayClassFact("gcp", "gke-l7-cross-regional-internal-managed-mc", True, False, _GKE_CLASSES),
    GatewayClassFact("gcp", "gke-l7-gxlb-mc", False, False, _GKE_CLASSES),
)
DEFAULT_GATEWAY_CLASS = {"gcp": "gke-l7-rilb"}
"""Where the cloud's own gateway controller supports InferencePool with an internal load balancer. On AWS
and Azure no managed controller does: the user names the class of an implementation they run (GAIE
site-src/implementations/gateways.md@v1.5.0 lists Envoy AI Gateway, Istio, agentgateway, NGINX Gateway
Fabric, kgateway)."""

GKE_CRDS_PREINSTALLED = ("GKE 1.34.0-gke.1626000 and later install the GA Gateway API and Inference Extension CRDs "
                         f"(https://llm-d.ai/docs/infrastructure/gateway/gke, read {READ_ON}); Gateway API 1.5.0 on "
                         f"1.35.2-gke.1842000 and later ({_GKE_CLASSES})")

# The annotation that makes a cloud's load balancer for a Service internal; set on the Gateway's
# `spec.infrastructure.annotations` (Gateway API standard channel), which implementations copy to
# the Service they create for the Gateway.
INTERNAL_LB_ANNOTATIONS: dict[str, dict[str, str]] = {
    "aws": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
            "service.beta.kubernetes.io/aws-load-balancer-internal": "true"},
    "azure": {"service.beta.kubernetes.io/azure-load-balancer-internal": "true"},
}
INTERNAL_LB_SOURCES = {
    "aws": "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/annotations/ "
           "(aws-load-balancer-scheme) and the in-tree cloud provider's aws-load-balancer-internal",
    "azure": "https://learn.microsoft.com/azure/aks/internal-lb (azure-load-balancer-internal)",
}


def gateway_class(config: StackConfig) -> str | None:
    from ..config import cloud_plugin

    plugin = cloud_plugin(config.cloud)
    return config.inference_gateway.gateway_class or (plugin.default_gateway_class if plugin is not None else None)


def installs_crds(config: StackConfig) -> bool:
    """Whether the stack installs the Gateway API and Inference Extension CRDs: as configured, else where the
    cloud does not (its plug-in's `installs_gateway_crds`); never on `existing` (the cluster has them)."""
    from ..config import cloud_plugin

    chosen = config.inference_gateway.install_crds
    plugin = cloud_plugin(config.cloud)
    return chosen if chosen is not None else (plugin is not None and plugin.installs_gateway_crds)
