"""GCP: a private GKE cluster with sole-tenant, CMEK-encrypted GPU node pools and an encrypted model store.

Components (one per module): `GcpKey`, `GcpNetwork`, `GkeNodeServiceAccount`,
`GkeCluster`, `GkeGpuNodePool`, `GcsModelStore`, and `GcpPlatformCluster`, which
composes them from stack config into the `ClusterContract`. Needs the `gcp` extra
(`pulumi-gcp`).

The component classes load on first use, so that
`llm_infra.gcp.naming` and the mock outputs (pure Python) never import pulumi_gcp.
"""

import importlib
from typing import Any

_COMPONENTS = {
    "GcpKey": "key",
    "GcpKeyArgs": "key",
    "GcpNetwork": "network",
    "GcpNetworkArgs": "network",
    "GkeNodeServiceAccount": "node_service_account",
    "GkeNodeServiceAccountArgs": "node_service_account",
    "GkeCluster": "cluster",
    "GkeClusterArgs": "cluster",
    "GkeGpuNodePool": "gpu_node_pool",
    "GkeGpuNodePoolArgs": "gpu_node_pool",
    "GcsModelStore": "model_store",
    "GcsModelStoreArgs": "model_store",
    "GcpPlatformCluster": "platform_cluster",
    "GcpPlatformClusterArgs": "platform_cluster",
}

__all__ = sorted(_COMPONENTS)


def __getattr__(name: str) -> Any:
    module = _COMPONENTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llm_infra.gcp' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
