"""What a cluster hands the cloud-agnostic Kubernetes layer: one small typed object.

Every cloud's cluster component (and `existing_cluster` for a cluster the user already
runs) produces a `ClusterContract`. The Kubernetes GPU layer and the Triton workload
take only this object; they never ask which cloud they are on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pulumi


@dataclass(frozen=True)
class ModelIdentityRequest:
    """A model's Kubernetes service account that must be able to read its weights, and nothing else."""

    model: str
    namespace: str
    service_account: str
    weights_uri: str


@dataclass(frozen=True)
class WorkloadIdentity:
    """How a pod proves to its cloud that it is the model's identity."""

    service_account_annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Annotations on the Kubernetes service account (e.g. `eks.amazonaws.com/role-arn`)."""
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels the pod needs (e.g. `azure.workload.identity/use: "true"`)."""
    description: str = ""
    """One line for the plan summary: which cloud identity reads which bucket."""


IdentityBinder = Callable[[ModelIdentityRequest, pulumi.ResourceOptions], WorkloadIdentity]


@dataclass(frozen=True)
class ClusterContract:
    """The facts about a cluster that the Kubernetes layer relies on."""

    provider: pulumi.ProviderResource
    """Explicit Kubernetes provider for this cluster; the default provider is never used."""
    storage_class: pulumi.Input[str]
    """Name of a StorageClass whose volumes are encrypted with the customer key."""
    encryption_key: pulumi.Input[str]
    """Identifier of the customer key that encrypts the storage class and cluster secrets."""
    manages_device_plugin: bool
    """True where the cloud runs the NVIDIA device plugin itself (GKE); then ours is not deployed."""
    bind_model_identity: IdentityBinder
    """Binds a model's service account to a cloud identity that may read that model's weights only."""
    manages_gpu_metrics: bool = False
    """True where the cloud collects the GPUs' DCGM metrics itself (GKE's managed DCGM, which
    reads the GKE-installed driver); then our DCGM exporter is not deployed."""
    oidc_issuer: pulumi.Input[str] | None = None
    """The cluster's workload-identity (OIDC) issuer, where the cloud has one."""
    metadata_identity_egress: bool = False
    """True where pods obtain workload-identity tokens from a metadata server at
    169.254.169.254 that serves only the pod's own identity (GKE_METADATA). Everywhere
    else the link-local range stays blocked so that pods cannot reach the node's identity."""
    workload_tolerations: tuple[Mapping[str, str], ...] = ()
    """Tolerations GPU workloads need for taints this cloud puts on GPU nodes besides
    `nvidia.com/gpu` (AKS taints spot nodes `kubernetes.azure.com/scalesetpriority=spot`).
    A toleration only permits; the pool's node selector still decides where a pod runs."""
    zone_label: str = "topology.kubernetes.io/zone"
    """Node label that names the zone, for spreading replicas."""
    gpu_pool_label: str = "llm-infra.io/gpu-pool"
    """Node label whose value is the GPU pool's name; Triton pods select their pool by it."""
