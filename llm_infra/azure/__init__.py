"""Azure: a private AKS cluster with encrypted GPU node pools and an encrypted model store.

Components (one per module): `AzureKey`, `AzureDiskEncryptionSet`, `AzureNetwork`,
`AksCluster`, `AksGpuNodePool`, `AzureModelStore`, and `AzurePlatformCluster`, which
composes them from stack config into the `ClusterContract`. Needs the `azure` extra
(`pulumi-azure-native`).

The component classes load on first use, so that
`llm_infra.azure.naming` and the mock outputs (pure Python) never import
pulumi_azure_native.
"""

import importlib
from typing import Any

_COMPONENTS = {
    "AzureKey": "key",
    "AzureKeyArgs": "key",
    "AzureDiskEncryptionSet": "disk_encryption_set",
    "AzureDiskEncryptionSetArgs": "disk_encryption_set",
    "AzureNetwork": "network",
    "AzureNetworkArgs": "network",
    "AksCluster": "cluster",
    "AksClusterArgs": "cluster",
    "AksGpuNodePool": "gpu_node_pool",
    "AksGpuNodePoolArgs": "gpu_node_pool",
    "AzureModelStore": "model_store",
    "AzureModelStoreArgs": "model_store",
    "AzurePlatformCluster": "platform_cluster",
    "AzurePlatformClusterArgs": "platform_cluster",
}

__all__ = sorted(_COMPONENTS)


def __getattr__(name: str) -> Any:
    module = _COMPONENTS.get(name)
    if module is None:
        raise AttributeError(f"module 'llm_infra.azure' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
