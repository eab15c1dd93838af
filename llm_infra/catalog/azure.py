"""Azure GPU VM sizes and what Azure Dedicated Host can run (pure Python, no pulumi_azure_native).

Config validation imports this module, so it must stay free of cloud SDKs.

Sources:
- NVIDIA GPU sizes: Azure "GPU accelerated VM sizes" (NCasT4_v3, NC A100 v4, ND A100 v4,
  NDm A100 v4, ND H100 v5, ND H200 v5 series pages on learn.microsoft.com).
- Dedicated hosts: "GPU optimized Azure Dedicated Host SKUs"
  (learn.microsoft.com/azure/virtual-machines/dedicated-host-gpu-optimized-skus) lists
  exactly two GPU host SKUs, NVasv4-Type1 (AMD MI25, NVv4 VMs) and NVsv3-Type1 (NVIDIA
  M60, NVv3 VMs); the host SKU list of `azurerm_dedicated_host.sku_name` agrees. No NC or
  ND series runs on a dedicated host, so none of the GPUs an LLM is served on can be
  isolated that way on Azure.
"""

# VM size -> (GPU model, GPUs per VM). Only sizes with whole NVIDIA datacenter GPUs.
GPU_VM_SIZES: dict[str, tuple[str, int]] = {
    "Standard_NC4as_T4_v3": ("nvidia-t4", 1),
    "Standard_NC8as_T4_v3": ("nvidia-t4", 1),
    "Standard_NC16as_T4_v3": ("nvidia-t4", 1),
    "Standard_NC64as_T4_v3": ("nvidia-t4", 4),
    "Standard_NC24ads_A100_v4": ("nvidia-a100-80gb", 1),
    "Standard_NC48ads_A100_v4": ("nvidia-a100-80gb", 2),
    "Standard_NC96ads_A100_v4": ("nvidia-a100-80gb", 4),
    "Standard_ND96amsr_A100_v4": ("nvidia-a100-80gb", 8),
    "Standard_ND96asr_v4": ("nvidia-a100-40gb", 8),
    "Standard_ND96isr_H100_v5": ("nvidia-h100-80gb", 8),
    "Standard_ND96isr_H200_v5": ("nvidia-h200-141gb", 8),
    # NVv3 (Tesla M60, 8 GiB): no LLM runs on it, and the stack config's GPU catalog does
    # not offer it. Listed because it is the only NVIDIA series a dedicated host runs.
    "Standard_NV12s_v3": ("nvidia-m60", 1),
    "Standard_NV24s_v3": ("nvidia-m60", 2),
    "Standard_NV48s_v3": ("nvidia-m60", 4),
}

# VM size -> (Dedicated Host SKU that runs it, VMs of that size per host), from the
# packing tables of the GPU optimized Dedicated Host SKUs page.
DEDICATED_HOST_SKUS: dict[str, tuple[str, int]] = {
    "Standard_NV12s_v3": ("NVSv3-Type1", 4),
    "Standard_NV24s_v3": ("NVSv3-Type1", 2),
    "Standard_NV48s_v3": ("NVSv3-Type1", 1),
}

DEDICATED_HOST_SOURCE = "learn.microsoft.com/azure/virtual-machines/dedicated-host-gpu-optimized-skus"


def default_vm_size(gpu: str, gpus_per_node: int) -> str | None:
    """The first listed (smallest) size with exactly `gpus_per_node` GPUs of `gpu`."""
    return next((size for size, (g, n) in GPU_VM_SIZES.items() if g == gpu and n == gpus_per_node), None)


def check_vm_size(gpu: str, gpus_per_node: int, vm_size: str | None) -> tuple[str, str] | None:
    """(field, problem) when the pool's GPU, GPU count and VM size do not fit together, else None."""
    if vm_size is None:
        if default_vm_size(gpu, gpus_per_node) is None:
            offered = sorted({f"{n} x {g}" for g, n in GPU_VM_SIZES.values() if g == gpu})
            if not offered:
                return "gpu", (f"expected a GPU that an Azure NC/ND size offers "
                               f"({sorted({g for g, _ in GPU_VM_SIZES.values() if g != 'nvidia-m60'})}), got {gpu!r}")
            return "gpus_per_node", f"expected a GPU count an Azure size offers for {gpu} ({offered}), got {gpus_per_node}"
        return None
    known = GPU_VM_SIZES.get(vm_size)
    if known is None:
        return "instance_type", f"expected one of the Azure GPU VM sizes {sorted(GPU_VM_SIZES)}, got {vm_size!r}"
    if known != (gpu, gpus_per_node):
        return "instance_type", (f"expected a size with {gpus_per_node} x {gpu}, got {vm_size!r} "
                                 f"({known[1]} x {known[0]})")
    return None


def dedicated_host_problem(vm_size: str) -> str | None:
    """Why `vm_size` cannot run on an Azure Dedicated Host, or None when a host SKU runs it."""
    if vm_size in DEDICATED_HOST_SKUS:
        return None
    return (f"expected a VM size that an Azure Dedicated Host SKU runs "
            f"({', '.join(f'{s} on {h}' for s, (h, _) in DEDICATED_HOST_SKUS.items())}; {DEDICATED_HOST_SOURCE}), "
            f"got {vm_size!r}: Azure offers no Dedicated Host SKU for the NC and ND series")
