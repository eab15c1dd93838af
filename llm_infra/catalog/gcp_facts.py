"""Sourced facts about Compute Engine and GKE that llm-infra's checks and defaults rest on.

Pure Python (config validation imports it). Rows: machine shapes, the sole-tenant node
type of each GPU, the service agents that use the customer key, GKE's node reservations
and persistent-disk throughput. Each row names where it was read and when.
"""

from __future__ import annotations

import math

from ..facts import Allocatable, Source, tiered_cpu_reserve_millicores

MACHINE_TYPES_SOURCE = Source(
    "https://cloud.google.com/compute/docs/accelerator-optimized-machines",
    "Accelerator-optimized machine series (A2, A3, G2): vCPUs and memory per machine type; N1 shapes from "
    "https://cloud.google.com/compute/docs/general-purpose-machines#n1_machines.")

# machine type -> (vCPUs, memory GiB), every type of `machine_types.GPU_FAMILIES`.
MACHINE_SHAPES: dict[str, tuple[int, float]] = {
    "g2-standard-4": (4, 16), "g2-standard-8": (8, 32), "g2-standard-12": (12, 48), "g2-standard-16": (16, 64),
    "g2-standard-24": (24, 96), "g2-standard-32": (32, 128), "g2-standard-48": (48, 192),
    "g2-standard-96": (96, 384),
    "a2-highgpu-1g": (12, 85), "a2-highgpu-2g": (24, 170), "a2-highgpu-4g": (48, 340), "a2-highgpu-8g": (96, 680),
    "a2-ultragpu-1g": (12, 170), "a2-ultragpu-2g": (24, 340), "a2-ultragpu-4g": (48, 680),
    "a2-ultragpu-8g": (96, 1360),
    "a3-highgpu-1g": (26, 234), "a3-highgpu-2g": (52, 468), "a3-highgpu-4g": (104, 936),
    "a3-highgpu-8g": (208, 1872),
    "a3-ultragpu-8g": (224, 2952),
    "n1-standard-8": (8, 30), "n1-standard-16": (16, 60), "n1-highmem-16": (16, 104),
    "n1-standard-32": (32, 120), "n1-highmem-32": (32, 208),
}

# --- sole tenancy -----------------------------------------------------------------------------

SOLE_TENANT_NODE_TYPES: dict[str, Source] = {
    "g2-node-96-384": Source(
        "https://cloud.google.com/compute/docs/nodes/sole-tenant-nodes#node_types",
        "Sole-tenancy overview, node types: G2 machines run on g2-node-96-384 (8 L4)."),
    "a2-highgpu-node-96-680": Source(
        "https://cloud.google.com/compute/docs/release-notes",
        "2025-12-16: A2 High, A2 Ultra, A2 Mega, A3 High and A3 Mega machine types can run on sole-tenant nodes."),
    "a2-ultragpu-node-96-1360-lssd": Source(
        "https://cloud.google.com/compute/docs/release-notes",
        "2025-12-16: A2 Ultra on sole-tenant nodes (node type a2-ultragpu-node-96-1360-lssd)."),
    "a3-highgpu-node-208-1872-lssd": Source(
        "https://cloud.google.com/compute/docs/release-notes",
        "2025-12-16: A3 High on sole-tenant nodes (node type a3-highgpu-node-208-1872-lssd)."),
}
NO_SOLE_TENANT_SOURCE = Source(
    "https://cloud.google.com/compute/docs/nodes/sole-tenant-nodes#node_types",
    "No sole-tenant node type lists A3 Ultra (H200) or N1 with T4 GPUs.")

# --- zones that offer each GPU ------------------------------------------------------------------

GPU_ZONES_SOURCE = Source(
    "https://github.com/skypilot-org/skypilot-catalog/blob/006059e0f18acb1341e22a27751e9f80df6ba92f/catalogs/v8/gcp/vms.csv",
    "SkyPilot's machine-generated GCP catalog (the Compute Engine API's machine types per zone) at the commit "
    "in the URL: the zones that list each GPU machine series, for the regions below. Google's own table: "
    "https://cloud.google.com/compute/docs/gpus/gpu-regions-zones.")
# GPU -> zones that offer its machine series, for the regions with rows (GPU_ZONE_REGIONS).
GPU_ZONES: dict[str, frozenset[str]] = {
    "nvidia-l4": frozenset({"europe-west4-a", "europe-west4-b", "europe-west4-c",
                            "us-central1-a", "us-central1-b", "us-central1-c"}),
    "nvidia-a100-40gb": frozenset({"europe-west4-a", "europe-west4-b",
                                   "us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"}),
    "nvidia-a100-80gb": frozenset({"europe-west4-a", "us-central1-a", "us-central1-c"}),
    "nvidia-h100-80gb": frozenset({"europe-west4-b", "europe-west4-c",
                                   "us-central1-a", "us-central1-b", "us-central1-c"}),
    "nvidia-h200-141gb": frozenset({"europe-west4-a", "us-central1-b"}),
}
GPU_ZONE_REGIONS = frozenset({"europe-west4", "us-central1"})


def gpu_zone_problem(gpu: str, zone: str) -> str | None:
    """Why `zone` cannot run `gpu` machines, or None; a region without rows is refused, not guessed."""
    region = zone.rsplit("-", 1)[0]
    if region not in GPU_ZONE_REGIONS:
        return (f"expected a zone of a region llm-infra has sourced GPU rows for ({sorted(GPU_ZONE_REGIONS)}; "
                f"add rows to llm_infra/catalog/gcp_facts.py GPU_ZONES from {GPU_ZONES_SOURCE.url}), got {zone!r}")
    offered = sorted(z for z in GPU_ZONES.get(gpu, ()) if z.startswith(region + "-"))
    if zone not in offered:
        return (f"expected a zone of {region} that offers {gpu} machines ({offered}; {GPU_ZONES_SOURCE.url}), "
                f"got {zone!r}")
    return None


# --- service agents that encrypt with the customer key ------------------------------------------

SERVICE_AGENTS: dict[str, tuple[str, Source]] = {
    "container.googleapis.com": ("service-{number}@container-engine-robot.iam.gserviceaccount.com", Source(
        "https://cloud.google.com/iam/docs/service-agents",
        "Kubernetes Engine Service Agent; needs cryptoKeyEncrypterDecrypter for application-layer secrets encryption "
        "(https://cloud.google.com/kubernetes-engine/docs/how-to/encrypting-secrets).")),
    "compute.googleapis.com": ("service-{number}@compute-system.iam.gserviceaccount.com", Source(
        "https://cloud.google.com/iam/docs/service-agents",
        "Compute Engine Service Agent; needs the key for CMEK boot and persistent disks "
        "(https://cloud.google.com/kubernetes-engine/docs/how-to/using-cmek).")),
    "storage.googleapis.com": ("service-{number}@gs-project-accounts.iam.gserviceaccount.com", Source(
        "https://cloud.google.com/storage/docs/projects#service-agents",
        "The Cloud Storage service agent is created on first use: the JSON API projects.serviceAccount.get "
        "(`gcp.storage.get_project_service_account`) returns it and creates it if needed; a fresh project has "
        "none until then (terraform-provider-google issues 9730, 9969).")),
}

# --- node allocatable (GKE Standard) ---------------------------------------------------------

RESERVATIONS_SOURCE = Source(
    "https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes#memory_and_cpu_reservations",
    "Memory: 25% of the first 4 GiB, 20% of the next 4 GiB, 10% of the next 8 GiB, 6% of the next 112 GiB, 2% "
    "above 128 GiB, plus 100 MiB eviction threshold; CPU: 6% of the first core, 1% of the next, 0.5% of the next "
    "2, 0.25% above 4; ephemeral storage: 10% eviction threshold plus min(50% of the boot disk, 6 GiB + 35% of "
    "the boot disk, 100 GiB).")
MEMORY_TIERS_GIB = ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (math.inf, 0.02))
EVICTION_MEMORY_MIB = 100


def memory_reserve_gib(memory_gib: float) -> float:
    reserve, left = 0.0, memory_gib
    for size, share in MEMORY_TIERS_GIB:
        part = min(left, size)
        reserve += part * share
        left -= part
        if left <= 0:
            break
    return reserve


def node_allocatable(machine_type: str, boot_disk_gib: int) -> Allocatable | None:
    shape = MACHINE_SHAPES.get(machine_type)
    if shape is None:
        return None
    return shape_allocatable(machine_type, *shape, boot_disk_gib)


def shape_allocatable(name: str, vcpus: int, memory_gib: float, boot_disk_gib: int) -> Allocatable:
    """GKE's allocatable on a node with these vCPUs, memory and boot disk (RESERVATIONS_SOURCE)."""
    cpu = vcpus * 1000 - tiered_cpu_reserve_millicores(vcpus)
    reserve = memory_reserve_gib(memory_gib)
    memory = math.floor((memory_gib - reserve) * 1024) - EVICTION_MEMORY_MIB
    ephemeral = boot_disk_gib * 0.9 - min(0.5 * boot_disk_gib, 6 + 0.35 * boot_disk_gib, 100)
    how = (f"{name}: {vcpus} vCPU, {memory_gib:g} GiB less GKE's reservation {reserve:.2f} GiB and "
           f"{EVICTION_MEMORY_MIB} MiB eviction")
    return Allocatable(cpu, memory, ephemeral, how)


# --- persistent disk throughput (model caches) ---------------------------------------------------

PD_SOURCE = Source(
    "https://cloud.google.com/compute/docs/disks/performance",
    "Zonal persistent disk throughput: pd-balanced 0.28 MiB/s per GiB with a 140 MiB/s baseline; pd-ssd 0.48 "
    "MiB/s per GiB with a 240 MiB/s baseline (read; per-VM limits of GPU machines are higher).")
PD_THROUGHPUT: dict[str, tuple[float, float]] = {"pd-balanced": (0.28, 140.0), "pd-ssd": (0.48, 240.0)}


def pd_read_mib_s(disk_type: str, size_gib: int) -> float:
    per_gib, baseline = PD_THROUGHPUT[disk_type]
    return baseline + per_gib * size_gib


MANAGES_DEVICE_PLUGIN = True
"""GKE installs the driver and runs the NVIDIA device plugin on GPU nodes
(https://cloud.google.com/kubernetes-engine/docs/how-to/gpus)."""
MANAGES_GPU_METRICS = True
"""GKE's managed DCGM metrics (enabled on the cluster) collect the GPUs' metrics."""

# --- GPU node runtime: how a pod gets only its GPUs -----------------------------------------

GKE_DEVICE_PLUGIN_SOURCE = Source(
    "https://github.com/GoogleCloudPlatform/container-engine-accelerators/blob/992db81/pkg/gpu/nvidia/beta_plugin.go",
    "GKE runs its own NVIDIA device plugin. `Allocate` answers with DeviceSpecs (the allocated /dev/nvidiaN plus "
    "the control devices), the driver's library mounts and env; GKE nodes do not run the NVIDIA container runtime, "
    "so a container's NVIDIA_VISIBLE_DEVICES selects nothing and a container without an allocation gets no GPU "
    "device node (read 2026-12-01, commit of 2026-06-11).")

# --- Private Google Access: the fixed range Google's APIs answer at -------------------------

PRIVATE_GOOGLE_APIS_SOURCE = Source(
    "https://cloud.google.com/vpc/docs/configure-private-google-access#domain-options",
    "private.googleapis.com: IP address range 199.36.153.8/30 ('routable only from within Google Cloud'; "
    "supports most Google APIs, including Cloud Storage and the token/STS endpoints); DNS: a private zone "
    "googleapis.com with an A record private.googleapis.com -> 199.36.153.8-11 and a CNAME *.googleapis.com -> "
    "private.googleapis.com (#config-domain), on a subnet with Private Google Access on.")
PRIVATE_GOOGLE_APIS_CIDR = "199.36.153.8/30"
PRIVATE_GOOGLE_APIS_ADDRESSES = ("199.36.153.8", "199.36.153.9", "199.36.153.10", "199.36.153.11")
