"""GPU machine types llm-infra knows on Compute Engine, and which of them run on sole-tenant nodes.

Pure Python (no pulumi_gcp), so that stack config validation can use it.

Sources:
- GPU machine types per GPU and count (A2 High/Ultra, A3 High/Ultra, G2, N1 + T4):
  https://cloud.google.com/compute/docs/gpus and .../accelerator-optimized-machines
  (the same table SkyPilot keeps in `sky/catalog/gcp_catalog.py`).
- Sole-tenant node types with GPUs: G2 runs on `g2-node-96-384` (sole-tenancy overview,
  https://cloud.google.com/compute/docs/nodes/sole-tenant-nodes#node_types); A2 High,
  A2 Ultra, A3 High (and A2 Mega, A3 Mega) became sole-tenant capable on 2025-12-16
  (Compute Engine release notes) on `a2-highgpu-node-96-680`,
  `a2-ultragpu-node-96-1360-lssd` and `a3-highgpu-node-208-1872-lssd`. A3 Ultra (H200)
  has no sole-tenant node type, and we found no source for N1 + T4 GPU node templates, so
  `isolation: dedicated` rejects both rather than failing at `pulumi up`.
- A3 High with 1, 2 or 4 GPUs is sold only as Spot or Flex-start, never on demand
  (GPU machine types, "A3 High"), so an on-demand pool must use `a3-highgpu-8g`.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuFamily:
    """How one llm-infra GPU name is bought on Compute Engine."""

    accelerator: str
    """The `guest_accelerators.type` of GKE node pools."""
    machine_types: dict[str, int]
    """Machine type -> GPUs it carries (the count GKE's guest accelerator must name)."""
    defaults: dict[int, str]
    """GPUs per node -> the machine type used when a pool names none (the smallest that fits)."""
    sole_tenant_node_type: str | None
    """Sole-tenant node type that hosts this family, or None where sole tenancy is not offered."""
    spot_only: frozenset[str] = frozenset()
    """Machine types that Compute Engine sells only as Spot (or Flex-start)."""


GPU_FAMILIES: dict[str, GpuFamily] = {
    "nvidia-l4": GpuFamily(
        accelerator="nvidia-l4",
        machine_types={"g2-standard-4": 1, "g2-standard-8": 1, "g2-standard-12": 1, "g2-standard-16": 1,
                       "g2-standard-32": 1, "g2-standard-24": 2, "g2-standard-48": 4, "g2-standard-96": 8},
        # g2-standard-8 rather than -4: 32 GiB of host memory stages an 8B model's weights.
        defaults={1: "g2-standard-8", 2: "g2-standard-24", 4: "g2-standard-48", 8: "g2-standard-96"},
        sole_tenant_node_type="g2-node-96-384",
    ),
    "nvidia-a100-40gb": GpuFamily(
        accelerator="nvidia-tesla-a100",
        machine_types={"a2-highgpu-1g": 1, "a2-highgpu-2g": 2, "a2-highgpu-4g": 4, "a2-highgpu-8g": 8},
        defaults={1: "a2-highgpu-1g", 2: "a2-highgpu-2g", 4: "a2-highgpu-4g", 8: "a2-highgpu-8g"},
        sole_tenant_node_type="a2-highgpu-node-96-680",
    ),
    "nvidia-a100-80gb": GpuFamily(
        accelerator="nvidia-a100-80gb",
        machine_types={"a2-ultragpu-1g": 1, "a2-ultragpu-2g": 2, "a2-ultragpu-4g": 4, "a2-ultragpu-8g": 8},
        defaults={1: "a2-ultragpu-1g", 2: "a2-ultragpu-2g", 4: "a2-ultragpu-4g", 8: "a2-ultragpu-8g"},
        sole_tenant_node_type="a2-ultragpu-node-96-1360-lssd",
    ),
    "nvidia-h100-80gb": GpuFamily(
        accelerator="nvidia-h100-80gb",
        machine_types={"a3-highgpu-1g": 1, "a3-highgpu-2g": 2, "a3-highgpu-4g": 4, "a3-highgpu-8g": 8},
        defaults={1: "a3-highgpu-1g", 2: "a3-highgpu-2g", 4: "a3-highgpu-4g", 8: "a3-highgpu-8g"},
        sole_tenant_node_type="a3-highgpu-node-208-1872-lssd",
        spot_only=frozenset({"a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g"}),
    ),
    "nvidia-h200-141gb": GpuFamily(
        accelerator="nvidia-h200-141gb",
        machine_types={"a3-ultragpu-8g": 8},
        defaults={8: "a3-ultragpu-8g"},
        sole_tenant_node_type=None,
    ),
    "nvidia-t4": GpuFamily(
        accelerator="nvidia-tesla-t4",
        # N1 machines take T4s as attached accelerators; any N1 size up to the GPU's limit works.
        machine_types={"n1-standard-8": 1, "n1-standard-16": 2, "n1-highmem-16": 2, "n1-standard-32": 4,
                       "n1-highmem-32": 4},
        defaults={1: "n1-standard-8", 2: "n1-standard-16", 4: "n1-standard-32"},
        sole_tenant_node_type=None,
    ),
}

# GPUs on a sole-tenant node of each GPU node type (the machine type with all of them).
SOLE_TENANT_GPUS_PER_NODE = 8


def default_machine_type(gpu: str, gpus_per_node: int) -> str | None:
    family = GPU_FAMILIES.get(gpu)
    return family.defaults.get(gpus_per_node) if family else None


def check_machine_type(gpu: str, gpus_per_node: int, machine_type: str | None, *,
                       sole_tenant: bool, spot: bool) -> tuple[str, str] | None:
    """(field, problem) where this pool cannot be built on GKE, else None."""
    family = GPU_FAMILIES.get(gpu)
    if family is None:
        return "gpu", f"expected a GPU that Compute Engine offers ({sorted(GPU_FAMILIES)}), got {gpu!r}"
    if machine_type is None:
        chosen = family.defaults.get(gpus_per_node)
        if chosen is None:
            return "gpus_per_node", (f"expected one of {sorted(family.defaults)} for {gpu} (the GPU counts of its "
                                     f"machine types), got {gpus_per_node}")
        field = "gpus_per_node"
    else:
        carried = family.machine_types.get(machine_type)
        if carried is None:
            return "instance_type", (f"expected a machine type that carries {gpu} ({sorted(family.machine_types)}), "
                                     f"got {machine_type!r}")
        if carried != gpus_per_node:
            return "instance_type", (f"expected a machine type with gpus_per_node ({gpus_per_node}) x {gpu}, "
                                     f"got {machine_type!r}, which carries {carried}")
        chosen, field = machine_type, "instance_type"
    if sole_tenant and family.sole_tenant_node_type is None:
        return ("gpu" if machine_type is None else field), (f"expected a machine type that sole-tenant nodes can run (isolation 'dedicated'): "
                       f"Compute Engine offers no sole-tenant node type for {chosen} ({gpu}); use a G2, A2 or "
                       f"A3 High pool, or isolation 'shared', got {chosen!r}")
    if chosen in family.spot_only and not spot:
        return field, (f"expected spot: true or an on-demand machine type (a3-highgpu-8g): Compute Engine sells "
                       f"{chosen} only as Spot or Flex-start, got {chosen!r} on demand")
    return None


def machine_type_for(gpu: str, gpus_per_node: int, machine_type: str | None) -> str:
    """The pool's machine type (the given one, else the default); the config is already validated."""
    chosen = machine_type or default_machine_type(gpu, gpus_per_node)
    if chosen is None:
        raise ValueError(f"gpus_per_node: no known {gpu} machine type has {gpus_per_node} GPUs")
    return chosen
