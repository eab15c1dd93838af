"""What a cluster hands the cloud-agnostic Kubernetes layer: one small typed object.

Every cloud's cluster component (and `ExistingCluster` for a cluster the user already
runs) produces a `ClusterContract`. The Kubernetes GPU layer and the Triton workload
never ask which cloud they are on.

The contract carries a Python callable (the identity binder), which no other Pulumi
language can pass. So the workload's own inputs are plain: `WorkloadCluster`, which a
TypeScript, Go or YAML program fills in itself, and which a contract produces with
`ClusterContract.workload_cluster()`.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s


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

DEFAULT_ZONE_LABEL = "topology.kubernetes.io/zone"
DEFAULT_GPU_POOL_LABEL = "llm-infra.io/gpu-pool"
# The taint every cloud puts on GPU nodes (its value differs by cloud); the device plugin tolerates it.
GPU_TAINT_KEY = "nvidia.com/gpu"
# Addresses inside clouds' private networks and clusters (RFC 1918, RFC 6598 shared space):
# a model pod's egress to the internet never reaches them, except a weight store's private endpoint.
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")


class Toleration(TypedDict):
    """A Kubernetes toleration of a taint that a cloud puts on its GPU nodes."""

    key: str
    """Taint key, e.g. `kubernetes.azure.com/scalesetpriority`."""
    operator: str
    """`Equal` or `Exists`."""
    value: NotRequired[str]
    """Taint value (with `Equal`). Defaults to none."""
    effect: str
    """`NoSchedule`, `PreferNoSchedule` or `NoExecute`."""


class WorkloadCluster(TypedDict):
    """What a model workload needs to know about its cluster, as plain inputs."""

    provider: k8s.Provider
    """Explicit Kubernetes provider of the cluster; the default provider is never used."""
    storage_class: pulumi.Input[str]
    """Name of a StorageClass whose volumes are encrypted with a customer-managed key."""
    metadata_identity_egress: NotRequired[bool]
    """Allow egress to 169.254.169.254:80, only where that metadata server serves the pod's own
    workload identity (GKE_METADATA). Defaults to false: the link-local range stays blocked, so
    pods cannot reach the node's identity."""
    store_egress_cidrs: NotRequired[Sequence[str]]
    """Private addresses of the weight store's endpoints (a private endpoint's subnet) that pods may reach on
    443. Every other private (RFC 1918, CGNAT) and link-local address stays blocked. Defaults to none: the
    store and the identity endpoints are reached at public addresses."""
    public_egress_cidrs: NotRequired[Sequence[str] | None]
    """The only public addresses pods may reach on 443, where the cloud's APIs answer at a fixed range (GKE
    with a private `googleapis.com` zone: `private.googleapis.com`, 199.36.153.8/30). Defaults to none:
    every public address on 443 (the store and the identity endpoints are reached by name, and a
    NetworkPolicy names no hosts)."""
    workload_tolerations: NotRequired[Sequence[Toleration]]
    """Tolerations for taints the cloud puts on GPU nodes besides `nvidia.com/gpu` (AKS spot).
    Defaults to none."""
    zone_label: NotRequired[str]
    """Node label that names the zone, for spreading replicas. Defaults to `topology.kubernetes.io/zone`."""
    gpu_pool_label: NotRequired[str]
    """Node label whose value is the GPU pool's name. Defaults to `llm-infra.io/gpu-pool`."""


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
    store_egress_cidrs: tuple[str, ...] = ()
    """Private addresses of the weight store's endpoints that pods may reach on 443 (Azure's private
    endpoint subnet); every other private address stays blocked."""
    public_egress_cidrs: tuple[str, ...] | None = None
    """The only public addresses pods may reach on 443 (GKE in a network the stack creates, whose private
    `googleapis.com` zone sends every Google API to `private.googleapis.com`); None: every public address."""
    gateway_source_cidrs: tuple[str, ...] = ()
    """Private ranges a managed load balancer's proxies connect to the inference Gateway from, where the
    cloud part created them (GKE: the region's proxy-only subnet); NetworkPolicies admit them."""
    workload_tolerations: tuple[Toleration, ...] = ()
    """Tolerations GPU workloads need for taints this cloud puts on GPU nodes besides
    `nvidia.com/gpu` (AKS taints spot nodes `kubernetes.azure.com/scalesetpriority=spot`).
    A toleration only permits; the pool's node selector still decides where a pod runs."""
    zone_label: str = DEFAULT_ZONE_LABEL
    """Node label that names the zone, for spreading replicas."""
    gpu_pool_label: str = DEFAULT_GPU_POOL_LABEL
    """Node label whose value is the GPU pool's name; Triton pods select their pool by it."""

    def workload_cluster(self) -> WorkloadCluster:
        """The plain inputs a model workload takes (everything but the identity binder); the workload checks them."""
        return {
            "provider": self.provider,
            "storage_class": self.storage_class,
            "metadata_identity_egress": self.metadata_identity_egress,
            "store_egress_cidrs": list(self.store_egress_cidrs),
            "public_egress_cidrs": list(self.public_egress_cidrs) if self.public_egress_cidrs is not None else None,
            "workload_tolerations": list(self.workload_tolerations),
            "zone_label": self.zone_label,
            "gpu_pool_label": self.gpu_pool_label,
        }
