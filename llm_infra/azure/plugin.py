"""Azure as a cloud plug-in: every answer llm-infra asks Azure for, and where its parts live.

Bottom layer (tests/test_cloud_seam.py): imports only config, the catalog, the planning rules and the
policies; the components are reached through this package's lazy names.
"""

from __future__ import annotations

from .. import azure as package
from ..catalog import azure as catalog
from ..catalog import azure_facts as facts
from ..catalog.gateways import INTERNAL_LB_ANNOTATIONS
from ..cloud_plugin import Cloud, package_components
from ..config.azure import AzureConfig, _azure_problems
from ..facts import Allocatable
from ..planning.catalog import DEFAULT_SYSTEM_INSTANCE_TYPE, InstanceType, PriceItem
from ..planning.cost import CloudPricing, CostLine, StackCostInput, nat_gateways, price, shared_price_when_dedicated
from ..policies import azure as policies
from . import mock_outputs

GPU_OS_DISK_GIB = 256
"""OS disk of an AKS GPU node (`AzureGpuNodePool`'s default, which the platform keeps)."""


def _gpu_node(config, pool) -> tuple[str, Allocatable | None]:
    assert config.azure is not None
    kind = pool.instance_type or catalog.default_vm_size(pool.gpu, pool.gpus_per_node) or ""
    return kind, facts.node_allocatable(kind, GPU_OS_DISK_GIB, config.azure.kubernetes_version)


def _system_node(config, name: str, vcpus: int, memory_gib: float, max_pods: int, disk_gib: int) -> Allocatable:
    assert config.azure is not None
    return facts.shape_allocatable(name, vcpus, memory_gib, disk_gib, config.azure.kubernetes_version)


def _allowlists(config) -> list[tuple[str, list[str]]]:
    return [("azure.authorized_ip_ranges", config.azure.authorized_ip_ranges)] if config.azure is not None else []


def _device_list_problems(config, field: str, given: str) -> list[str]:
    if given == "volume-mounts":
        return [f"{field}: expected envvar on AKS (no node bootstrap can set the NVIDIA runtime's "
                "accept-nvidia-visible-devices-as-volume-mounts), got volume-mounts"]
    return []


def _dedicated_hosts(stack: StackCostInput, catalog: tuple[InstanceType, ...], gpu_nodes_min: int,
                     gpu_nodes_max: int, notes: list[str]) -> CostLine:
    notes.append(f"isolation 'dedicated' on {stack.cloud} needs dedicated hosts; their premium was not found in the "
                 f"sources used, so it is not included.")
    return CostLine("dedicated host premium", 0.0, 0.0, "not modelled", priced=False)


def _control_plane(stack: StackCostInput) -> tuple[str, PriceItem]:
    tier = stack.control_plane_tier or ("standard" if stack.production else "free")
    return f"AKS control plane ({tier} tier)", price("azure", f"control_plane_{tier}")


PLUGIN = Cloud(
    name="azure", provider="azure-native", extra="azure", sdk="pulumi_azure_native",
    settings=AzureConfig, problems=_azure_problems, account_field="subscription_id", uri_schemes=("azureblob",),
    region_pattern=r"^[a-z]+[a-z0-9]*[a-z0-9]$", region_example="westeurope", zone_pattern=lambda region: r"^[1-3]$",
    catalog=catalog, facts=facts, default_type=catalog.default_vm_size,
    allowlists=_allowlists, device_list_strategy=lambda config: facts.DEVICE_LIST_STRATEGY,
    device_list_problems=_device_list_problems,
    gpu_node=_gpu_node, system_node=_system_node, installs_gateway_crds=True,
    internal_lb_annotations=INTERNAL_LB_ANNOTATIONS["azure"],
    pricing=CloudPricing(shared_price_when_dedicated, _dedicated_hosts, _control_plane, nat_gateways),
    system_type=DEFAULT_SYSTEM_INSTANCE_TYPE["azure"],
    policies=policies, package=package, platform_cluster="AzurePlatformCluster", mock_outputs=mock_outputs,
    components=package_components(package),
)
"""Azure: AKS, GPU nodes (dedicated hosts), Key Vault, Blob Storage (the `azure` extra)."""
