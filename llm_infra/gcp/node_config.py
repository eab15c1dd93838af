"""The hardened node configuration that every GKE node of the stack shares (not a component).

Each node: runs as the dedicated minimal service account with the `cloud-platform` scope
(access is decided by IAM, not by legacy scopes), serves pods the GKE metadata server
(Workload Identity; the node's own credentials are out of the pods' reach), boots
Container-Optimized OS with secure boot and integrity monitoring, has its boot disk
encrypted with the customer key, and keeps the legacy metadata endpoints off.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
IMAGE_TYPE = "COS_CONTAINERD"


def hardened_node_config(
    *,
    machine_type: str,
    service_account: pulumi.Input[str],
    key_id: pulumi.Input[str],
    disk_size_gb: int,
    disk_type: str = "pd-balanced",
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] | None = None,
    resource_labels: Mapping[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Keyword arguments for `NodePoolNodeConfigArgs` / `ClusterNodeConfigArgs`."""
    return {
        "machine_type": machine_type,
        "service_account": service_account,
        "oauth_scopes": [CLOUD_PLATFORM_SCOPE],
        "image_type": IMAGE_TYPE,
        "disk_size_gb": disk_size_gb,
        "disk_type": disk_type,
        "boot_disk_kms_key": key_id,
        "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
        "workload_metadata_config": {"mode": "GKE_METADATA"},
        "metadata": {"disable-legacy-endpoints": "true"},
        "labels": dict(labels or {}),
        "taints": [dict(t) for t in taints or []],
        "resource_labels": dict(resource_labels or {}),
        **extra,
    }
