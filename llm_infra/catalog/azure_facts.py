"""Sourced facts about Azure VMs and AKS that llm-infra's checks and defaults rest on.

Pure Python (config validation imports it). Rows: VM shapes, encryption at host per VM
size, AKS node reservations for the Kubernetes versions we target, and managed-disk
throughput. Each row names where it was read and when.
"""

from __future__ import annotations

import math

from ..facts import Allocatable, Source

VM_SIZES_SOURCE = Source(
    "https://learn.microsoft.com/azure/virtual-machines/sizes/overview#gpu-accelerated",
    "GPU accelerated size series pages (NCasT4_v3, NC A100 v4, ND A100 v4, NDm A100 v4, ND H100 v5, ND H200 v5, "
    "NVv3): vCPUs and memory (GiB) per size.")

# VM size -> (vCPUs, memory GiB), every size of `vm_sizes.GPU_VM_SIZES`.
VM_SHAPES: dict[str, tuple[int, float]] = {
    "Standard_NC4as_T4_v3": (4, 28), "Standard_NC8as_T4_v3": (8, 56), "Standard_NC16as_T4_v3": (16, 110),
    "Standard_NC64as_T4_v3": (64, 440),
    "Standard_NC24ads_A100_v4": (24, 220), "Standard_NC48ads_A100_v4": (48, 440),
    "Standard_NC96ads_A100_v4": (96, 880),
    "Standard_ND96amsr_A100_v4": (96, 1900), "Standard_ND96asr_v4": (96, 900),
    "Standard_ND96isr_H100_v5": (96, 1900), "Standard_ND96isr_H200_v5": (96, 1850),
    "Standard_NV12s_v3": (12, 112), "Standard_NV24s_v3": (24, 224), "Standard_NV48s_v3": (48, 448),
}

ENCRYPTION_AT_HOST_SOURCE = Source(
    "https://learn.microsoft.com/azure/virtual-machines/disk-encryption#supported-vm-sizes",
    "Encryption at host: supported by the sizes whose Resource SKU capability EncryptionAtHostSupported is True "
    "(`az vm list-skus --query \"[?capabilities[?name=='EncryptionAtHostSupported' && value=='True']]\"`); "
    "the feature needs `az feature register --namespace Microsoft.Compute --name EncryptionAtHost`.")
# VM sizes with encryption at host (every GPU pool turns it on: SECURITY.md 25).
ENCRYPTION_AT_HOST: frozenset[str] = frozenset({
    "Standard_NC4as_T4_v3", "Standard_NC8as_T4_v3", "Standard_NC16as_T4_v3", "Standard_NC64as_T4_v3",
    "Standard_NC24ads_A100_v4", "Standard_NC48ads_A100_v4", "Standard_NC96ads_A100_v4",
    "Standard_ND96amsr_A100_v4", "Standard_ND96asr_v4", "Standard_ND96isr_H100_v5", "Standard_ND96isr_H200_v5",
})

# --- node allocatable (AKS 1.29 and later) ---------------------------------------------------

RESERVATIONS_SOURCE = Source(
    "https://learn.microsoft.com/azure/aks/node-resource-reservations",
    "AKS 1.29 and later: kube-reserved memory = the lesser of 20 MB x max pods + 50 MB and 25% of the memory; "
    "eviction memory.available < 100 Mi. CPU kube-reserved (millicores) by cores: 1: 60, 2: 100, 4: 140, 8: 180, "
    "16: 260, 32: 420, 64: 740.")
MAX_PODS_SOURCE = Source(
    "https://learn.microsoft.com/azure/aks/azure-cni-overlay#maximum-pods-per-node",
    "Azure CNI Overlay: 250 pods per node by default (the GPU pools leave max pods unset).")
MAX_PODS = 250
FIRST_SUPPORTED_VERSION = (1, 29)
CPU_RESERVED_MILLICORES = {1: 60, 2: 100, 4: 140, 8: 180, 16: 260, 32: 420, 64: 740}
EVICTION_MEMORY_MIB = 100
EVICTION_NODEFS = 0.10


def cpu_reserve_millicores(vcpus: int) -> int:
    """The table's value; between and beyond its rows from 8 cores up, the line they lie on (180 + 10 per core above 8)."""
    if vcpus in CPU_RESERVED_MILLICORES:
        return CPU_RESERVED_MILLICORES[vcpus]
    if vcpus > 8:
        return 180 + 10 * (vcpus - 8)
    # Below 8 cores between rows: the next row up (the larger reservation).
    return CPU_RESERVED_MILLICORES[min(c for c in CPU_RESERVED_MILLICORES if c >= vcpus)]


def node_allocatable(vm_size: str, os_disk_gib: int, kubernetes_version: str) -> Allocatable | None:
    shape = VM_SHAPES.get(vm_size)
    major, minor = (int(x) for x in kubernetes_version.split(".")[:2])
    if shape is None or (major, minor) < FIRST_SUPPORTED_VERSION:
        return None
    return shape_allocatable(vm_size, *shape, os_disk_gib, kubernetes_version)


def shape_allocatable(name: str, vcpus: int, memory_gib: float, os_disk_gib: int,
                      kubernetes_version: str) -> Allocatable:
    """AKS's allocatable (1.29 and later) on a node with these vCPUs, memory and OS disk (RESERVATIONS_SOURCE)."""
    memory_mib = memory_gib * 1024
    reserved = min(20 * MAX_PODS + 50, 0.25 * memory_mib)
    memory = math.floor(memory_mib - reserved) - EVICTION_MEMORY_MIB
    cpu = vcpus * 1000 - cpu_reserve_millicores(vcpus)
    how = (f"{name}: {vcpus} vCPU, {memory_gib:g} GiB less kube-reserved min(20 x {MAX_PODS} pods + 50, 25%) "
           f"= {reserved:.0f} MiB and {EVICTION_MEMORY_MIB} MiB eviction (AKS {kubernetes_version})")
    return Allocatable(cpu, memory, os_disk_gib * (1 - EVICTION_NODEFS), how)


# --- managed disks (model caches) -------------------------------------------------------------

PREMIUM_SOURCE = Source(
    "https://learn.microsoft.com/azure/virtual-machines/disks-types#premium-ssd-size",
    "Premium SSD (LRS and ZRS) provisioned throughput per disk tier, MB/s: P10 (128 GiB) 100, P15 (256) 125, "
    "P20 (512) 150, P30 (1 TiB) 200, P40 (2 TiB) 250, P50 (4 TiB) 250, P60 (8 TiB) 500, P70 (16 TiB) 750, "
    "P80 (32 TiB) 900; smaller tiers P1-P6 25 MB/s, P10 100.")
PREMIUM_TIERS: tuple[tuple[int, float], ...] = (
    (4, 25), (8, 25), (16, 25), (32, 25), (64, 50), (128, 100), (256, 125), (512, 150), (1024, 200),
    (2048, 250), (4096, 250), (8192, 500), (16384, 750), (32768, 900))
PREMIUM_V2_SOURCE = Source(
    "https://learn.microsoft.com/azure/virtual-machines/disks-types#premium-ssd-v2",
    "Premium SSD v2: 3,000 IOPS and 125 MB/s free at any size; throughput provisionable to 0.25 MB/s per IOPS "
    "(StorageClass parameters DiskIOPSReadWrite and DiskMBpsReadWrite of disk.csi.azure.com).")
PREMIUM_V2_BASELINE_IOPS = 3000
PREMIUM_V2_MB_S_PER_IOPS = 0.25


def premium_read_mib_s(size_gib: int) -> float:
    """Provisioned throughput of a Premium SSD (LRS or ZRS) of this size (its tier's), in MiB/s."""
    mb_s = next(t for size, t in PREMIUM_TIERS if size_gib <= size) if size_gib <= PREMIUM_TIERS[-1][0] else 900
    return mb_s * 1e6 / 2**20


# --- the AKS control-plane identity and logs ------------------------------------------------

DISK_ENCRYPTION_SET_ROLE = "Reader"
DISK_ENCRYPTION_SET_ROLE_SOURCE = Source(
    "https://learn.microsoft.com/azure/aks/azure-disk-customer-managed-keys",
    "Bring your own keys with Azure managed disks in AKS: with a user-assigned control-plane identity, the "
    "cluster identity needs Reader access to the DiskEncryptionSet.")
CONTROL_PLANE_LOG_CATEGORIES: tuple[str, ...] = (
    "kube-apiserver", "kube-audit", "kube-audit-admin", "kube-controller-manager", "kube-scheduler",
    "cluster-autoscaler", "guard")
CONTROL_PLANE_LOGS_SOURCE = Source(
    "https://learn.microsoft.com/azure/aks/monitor-aks-reference#resource-logs",
    "Microsoft.ContainerService/managedClusters resource log categories: kube-apiserver, kube-audit, "
    "kube-audit-admin, kube-controller-manager, kube-scheduler, cluster-autoscaler, cloud-controller-manager, "
    "guard, csi-*; none is collected until a diagnostic setting routes it (AKS monitoring: 'Resource logs "
    "aren't collected and stored until you create a diagnostic setting').")
LOG_ANALYTICS_RETENTION_SOURCE = Source(
    "https://learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure",
    "Log Analytics workspace interactive retention: 30 to 730 days.")


MANAGES_DEVICE_PLUGIN = False
"""AKS installs the NVIDIA driver but not the device plugin on GPU node pools: the stack deploys it."""
MANAGES_GPU_METRICS = False

# --- GPU node runtime: how a pod gets only its GPUs -----------------------------------------

GPU_NODE_RUNTIME_SOURCES = (
    Source("https://github.com/Azure/AgentBaker/pull/221",
           "AKS GPU (N-series) nodes run containerd with nvidia-container-runtime as its runtime (2020-08-10)."),
    Source("https://github.com/Azure/AgentBaker/pull/7802",
           "Ubuntu 22.04 node images: moby-containerd 1.7.30 (2026-02-06); CDI is off by default in containerd 1.7."),
    Source("https://github.com/NVIDIA/aicr/issues/1688",
           "AKS Ubuntu 24.04 GPU nodes: containerd 2.x (2.3.2 on node images of 2026-07), on-disk config version 2."),
    Source("https://learn.microsoft.com/azure/aks/custom-node-configuration",
           "AKS node customization is kubelet and Linux OS (sysctl, transparent huge pages, swap) settings only: no "
           "user data or boot script reaches the node, so the NVIDIA toolkit's config cannot be set by the stack."),
)
# No node bootstrap: the toolkit keeps its defaults (the env var of any unprivileged container is honoured),
# so `volume-mounts` would fail every GPU container. `envvar` it is; README names the limit.
DEVICE_LIST_STRATEGY = "envvar"
