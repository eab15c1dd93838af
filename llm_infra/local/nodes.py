"""Simulated (kwok) nodes shaped like a stack's node pools.

Each GPU pool becomes nodes with the allocatable CPU, memory and ephemeral storage config
validation checks replicas against (`llm_infra.fit.gpu_node_allocatable`: the cloud's fact
table, or on `existing` the stack's `existing.gpu_nodes`), max pods per cloud (MAX_PODS,
sourced), `nvidia.com/gpu` capacity, the pool label, the GPU taint the cloud layer puts on
the pool, and zones. The two system nodes get the cloud's reservation formula from its fact
table too (`llm_infra.fit.system_node_allocatable`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import GpuPoolConfig, StackConfig
from ..contract import DEFAULT_GPU_POOL_LABEL, DEFAULT_ZONE_LABEL
from ..facts import Allocatable
from ..fit import system_node_allocatable
from ..planning.catalog import CATALOG, DEFAULT_SYSTEM_INSTANCE_TYPE, SYSTEM_INSTANCE_TYPES

READ = "2026-12-01"


@dataclass(frozen=True)
class MaxPods:
    """How many pods a cloud's kubelet takes on a node (the `pods` allocatable)."""

    pods: int
    source: str


MAX_PODS: dict[str, MaxPods] = {
    "aws": MaxPods(110, "https://docs.aws.amazon.com/eks/latest/userguide/cni-increase-ip-addresses.html: with "
                        "prefix delegation, 110 pods for instances below 30 vCPUs (read " + READ + ")"),
    "gcp": MaxPods(110, "https://cloud.google.com/kubernetes-engine/docs/how-to/flexible-pod-cidr: default 110 "
                        "(read " + READ + ")"),
    "azure": MaxPods(250, "https://learn.microsoft.com/en-us/azure/aks/azure-cni-overlay: default 250 with Azure "
                          "CNI Overlay (read " + READ + ")"),
}


def _quantities(alloc: Allocatable, pods: int) -> dict[str, str]:
    return {"cpu": f"{alloc.cpu_millicores}m", "memory": f"{int(alloc.memory_mib)}Mi",
            "ephemeral-storage": f"{int(alloc.ephemeral_gib * 1024)}Mi", "pods": str(pods)}


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
    """A GPU pool's instance type and its node's allocatable: CPU, memory and ephemeral storage as config
    validation checks them (`llm_infra.fit.gpu_node_allocatable`), pods from MAX_PODS. On `existing`, a pool
    the stack declares (`existing.gpu_nodes`) is shaped as declared, any other like AWS's type for its GPU."""
    from ..fit import gpu_node_allocatable

    if config.cloud == "existing":
        assert config.existing is not None
        declared = config.existing.gpu_nodes.get(pool.name)
        if declared is not None:
            return "", {"cpu": declared.cpu, "memory": declared.memory,
                        "ephemeral-storage": declared.ephemeral_storage, "pods": str(declared.pods)}
        config = config.model_copy(update={"cloud": "aws", "existing": None})
    kind, alloc = gpu_node_allocatable(config, pool)
    if alloc is None:
        raise ValueError(f"gpu_pools[{pool.name}]: no node allocatable row for {kind!r} on {config.cloud}")
    return kind, _quantities(alloc, MAX_PODS[config.cloud].pods)


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
    system_cloud = "aws" if cloud == "existing" else cloud
    vcpus, memory_gib = _shape(system_cloud, system_type) or (4, 16.0)
    max_pods = MAX_PODS[system_cloud].pods
    system = config if cloud != "existing" else config.model_copy(update={"cloud": "aws", "existing": None})
    alloc = _quantities(system_node_allocatable(system, system_type, vcpus, memory_gib, max_pods), max_pods)
    for i in range(2):
        nodes.append(NodeShape(
            name=f"system-{i}",
            labels={zone_label: zones[i % len(zones)], "node.kubernetes.io/instance-type": system_type},
            taints=[],
            capacity=alloc,
            allocatable=alloc,
        ))
    return nodes
