"""AWS: a private EKS cluster with dedicated, encrypted GPU node pools and an encrypted model store.

Components (one per module): `AwsKey`, `AwsNetwork`, `EksCluster`, `AwsGpuNodePool`,
`AwsClusterAutoscaler`, `AwsModelStore`, and `AwsPlatformCluster`, which composes them
from stack config into the `ClusterContract`. Needs the `aws` extra (`pulumi-aws`).

The component classes load on first use, so that
`llm_infra.aws.naming` and the mock outputs (pure Python) never import pulumi_aws.
"""

import importlib
from typing import Any

_COMPONENTS = {
    "AwsKey": "key",
    "AwsKeyArgs": "key",
    "AwsNetwork": "network",
    "AwsNetworkArgs": "network",
    "EksCluster": "cluster",
    "EksClusterArgs": "cluster",
    "AwsGpuNodePool": "gpu_node_pool",
    "AwsGpuNodePoolArgs": "gpu_node_pool",
    "AwsClusterAutoscaler": "cluster_autoscaler",
    "AwsClusterAutoscalerArgs": "cluster_autoscaler",
    "AwsModelStore": "model_store",
    "AwsModelStoreArgs": "model_store",
    "AwsPlatformCluster": "platform_cluster",
    "AwsPlatformClusterArgs": "platform_cluster",
}

__all__ = sorted(_COMPONENTS)


def __getattr__(name: str) -> Any:
    module = _COMPONENTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llm_infra.aws' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
