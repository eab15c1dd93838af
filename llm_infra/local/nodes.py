"""Simulated (kwok) nodes shaped like a stack's node pools.

Each GPU pool becomes nodes with the instance type's allocatable CPU, memory and ephemeral
storage as config validation computes them (`llm_infra.fit`, from the clouds' sourced fact
tables), max pods per cloud (RESERVATIONS, sourced), `nvidia.com/gpu` capacity, the pool
label, the GPU taint the cloud layer puts on the pool, and zones. The two system nodes use
the reservation formulas below (the fact tables cover GPU types only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import GpuPoolConfig, StackConfig
from ..contract import DEFAULT_GPU_POOL_LABEL, DEFAULT_ZONE_LABEL
from ..planning.catalog import CATALOG, DEFAULT_SYSTEM_INSTANCE_TYPE, SYSTEM_INSTANCE_TYPES

READ = "2026-12-01"


@dataclass(frozen=True)
class Reservation:
    """How a cloud's kubelet reserves a node's resources (kube-reserved + system-reserved + eviction)."""

    source: str
    max_pods: int
    max_pods_source: str


RESERVATIONS: dict[str, Reservation] = {
    # AL2023 nodeadm: kube-reserved memory 11 MiB x max pods + 255 MiB, CPU 6% of the first core, 1% of the
    # second, 0.5% of cores 3-4, 0.25% above; eviction-hard memory.available 100Mi.
    "aws": Reservation(
        "https://github.com/awslabs/amazon-eks-ami/blob/main/nodeadm/internal/kubelet/config.go (read " + READ + ")",
        110,
        "https://docs.aws.amazon.com/eks/latest/userguide/cni-increase-ip-addresses.html: with prefix "
        "delegation, 110 pods for instances below 30 vCPUs (read " + READ + ")"),
    # GKE: memory 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112, 2% above
    # 128 GiB, plus 100 MiB eviction; CPU tiers as EKS.
    "gcp": Reservation(
        "https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes#memory_and_cpu_reservations "
        "(read " + READ + ")",
        110,
        "https://cloud.google.com/kubernetes-engine/docs/how-to/flexible-pod-cidr: default 110 (read " + READ + ")"),
    # AKS (Kubernetes 1.29+): kube-reserved memory 20 MiB x max pods + 50 MiB, at most 25% of memory; CPU by
    # core count (below); eviction 100 MiB.
    "azure": Reservation(
        "https://learn.microsoft.com/en-us/azure/aks/node-resource-reservations (read " + READ + ")",
        250,
        "https://learn.microsoft.com/en-us/azure/aks/azure-cni-overlay: default 250 with Azure CNI Overlay "
        "(read " + READ + ")"),
}
# AKS kube-reserved CPU by core count (same source as RESERVATIONS["azure"]).
_AKS_CPU_MILLICORES = ((1, 60), (2, 100), (4, 140), (8, 180), (16, 260), (32, 420), (64, 740))
_EVICTION_MIB = 100


def _tiered_cpu_reserve(vcpus: int) -> int:
    total, reserve = vcpus * 1000, 0.0
    for start, end, share in ((0, 1000, 0.06), (1000, 2000, 0.01), (2000, 4000, 0.005), (4000, total, 0.0025)):
        if total > start:
            reserve += (min(total, end) - start) * share
    return int(reserve)


def _gke_memory_reserve_mib(memory_mib: float) -> float:
    reserve, left = 0.0, memory_mib
    for size_gib, share in ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (float("inf"), 0.02)):
        part = min(left, size_gib * 1024)
        reserve += part * share
        left -= part
        if left <= 0:
            break
    return reserve


def allocatable(cloud: str, vcpus: int, memory_gib: float) -> dict[str, str]:
    """Allocatable cpu, memory and pods of a node with this shape on `cloud` (existing: as on AWS)."""
    reservation = RESERVATIONS.get(cloud, RESERVATIONS["aws"])
    memory_mib = memory_gib * 1024
    pods = reservation.max_pods
    if cloud == "gcp":
        cpu = vcpus * 1000 - _tiered_cpu_reserve(vcpus)
        reserved_mib = _gke_memory_reserve_mib(memory_mib)
    elif cloud == "azure":
        cpu = vcpus * 1000 - next((m for cores, m in _AKS_CPU_MILLICORES if vcpus <= cores), 740)
        reserved_mib = min(20 * pods + 50, 0.25 * memory_mib)
    else:
        cpu = vcpus * 1000 - _tiered_cpu_reserve(vcpus)
        reserved_mib = 11 * pods + 255
    memory = int(memory_mib - reserved_mib - _EVICTION_MIB)
    return {"cpu": f"{cpu}m", "memory": f"{memory}Mi", "pods": str(pods)}


@dataclass
class NodeShape:
    name: str
    labels: dict[str, str]
    taints: list[dict[str, str]]
    capacity: dict[str, str]
    allocatable: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": {**self.labels, "kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                           "kubernetes.io/arch": "amd64", "type": "kwok"},
                "annotations": {**self.annotations, "kwok.x-k8s.io/node": "fake",
                                "node.alpha.kubernetes.io/ttl": "0"},
            },
            "spec": {"taints": self.taints},
            "status": {"capacity": self.capacity, "allocatable": self.allocatable,
                       "nodeInfo": {"kubeletVersion": "fake", "kubeProxyVersion": "fake",
                                    "architecture": "amd64", "operatingSystem": "linux"}},
        }


# The taint each cloud layer puts on GPU pools (llm_infra/<cloud>/gpu_node_pool.py; GKE's value is
# `present`), and the one AKS adds to spot nodes (llm_infra/azure/platform_cluster.py).
_GPU_TAINT_VALUE = {"aws": "true", "gcp": "present", "azure": "true", "existing": "true"}
_AKS_SPOT_TAINT = {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}


def _zones(config: StackConfig) -> list[str]:
    region = config.region or "local"
    if config.cloud == "aws" and config.aws is not None:
        return config.aws.zones(region)
    if config.cloud == "gcp" and config.gcp is not None:
        return list(config.gcp.zones or [f"{region}-{z}" for z in "abc"])
    if config.cloud == "azure" and config.azure is not None:
        return [f"{region}-{z}" for z in config.azure.zones]
    return ["zone-a", "zone-b"]


def _shape(cloud: str, name: str) -> tuple[int, float] | None:
    for entry in CATALOG:
        if entry.cloud == cloud and entry.name == name:
            return entry.vcpus, entry.memory_gib
    for system in SYSTEM_INSTANCE_TYPES:
        if system.cloud == cloud and system.name == name:
            return system.vcpus, system.memory_gib
    return None


def gpu_allocatable(config: StackConfig, pool: GpuPoolConfig) -> tuple[str, dict[str, str]]:
    """A GPU pool's instance type and its node's allocatable: CPU, memory and ephemeral storage from the
    cloud's fact table (`llm_infra.fit`, the numbers config validation checks replicas against),
    pods from RESERVATIONS. `existing` nodes are shaped like AWS's type for the pool's GPU."""
    from .. import fit

    cloud = config.cloud if config.cloud in ("aws", "gcp", "azure") else "aws"
    kind, alloc = fit._NODES[cloud](config, pool)
    if alloc is None:
        raise ValueError(f"gpu_pools[{pool.name}]: no node allocatable row for {kind!r} on {cloud}")
    return kind, {"cpu": f"{alloc.cpu_millicores}m", "memory": f"{int(alloc.memory_mib)}Mi",
                  "ephemeral-storage": f"{int(alloc.ephemeral_gib * 1024)}Mi",
                  "pods": str(RESERVATIONS[cloud].max_pods)}


def node_shapes(config: StackConfig, *, max_nodes_per_pool: int = 4) -> list[NodeShape]:
    """The kwok nodes for a stack: each GPU pool (up to `max_nodes_per_pool` nodes, spread over its
    zones) and two system nodes."""
    cloud = config.cloud
    zones = _zones(config)
    zone_label = config.existing.zone_label if cloud == "existing" and config.existing else DEFAULT_ZONE_LABEL
    nodes: list[NodeShape] = []
    for pool in config.gpu_pools:
        itype, alloc = gpu_allocatable(config, pool)
        taints = [{"key": "nvidia.com/gpu", "value": _GPU_TAINT_VALUE[cloud], "effect": "NoSchedule"}]
        if cloud == "azure" and pool.spot:
            taints.append(dict(_AKS_SPOT_TAINT))
        pool_zones = pool.zones or zones
        if cloud == "azure" and pool.zones:
            pool_zones = [f"{config.region}-{z}" for z in pool.zones]
        count = max(1, min(pool.max_nodes, max_nodes_per_pool))
        for i in range(count):
            gpus = str(pool.gpus_per_node)
            nodes.append(NodeShape(
                name=f"{pool.name}-{i}",
                labels={DEFAULT_GPU_POOL_LABEL: pool.name, zone_label: pool_zones[i % len(pool_zones)],
                        "node.kubernetes.io/instance-type": itype or "", "nvidia.com/gpu.present": "true"},
                taints=taints,
                capacity={**alloc, "nvidia.com/gpu": gpus},
                allocatable={**alloc, "nvidia.com/gpu": gpus},
            ))
    system_type = DEFAULT_SYSTEM_INSTANCE_TYPE.get(cloud, "m8i.xlarge")
    vcpus, memory_gib = _shape("aws" if cloud == "existing" else cloud, system_type) or (4, 16.0)
    alloc = {**allocatable(cloud, vcpus, memory_gib), "ephemeral-storage": "50Gi"}
    for i in range(2):
        nodes.append(NodeShape(
            name=f"system-{i}",
            labels={zone_label: zones[i % len(zones)], "node.kubernetes.io/instance-type": system_type},
            taints=[],
            capacity=alloc,
            allocatable=alloc,
        ))
    return nodes
