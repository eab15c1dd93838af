"""Azure settings of a `cloud: azure` stack, and what AKS cannot build from a stack config."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .. import versions
from .base import _allowlisted_network, _cidr_sized, _FieldError, _Strict, parse_weights_uri, shown

if TYPE_CHECKING:
    from .models import ModelConfig, StackConfig


GPU_NODE_OS_DISK_GIB = 256
"""OS disk of each GPU node (container images, ephemeral storage): AzureGpuNodePool's default."""

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_AZURE_SUBNET_ID = re.compile(
    r"^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w.()]{1,90}/providers/Microsoft\.Network/"
    r"virtualNetworks/[-\w.]{2,64}/subnets/[-\w.]{1,80}$")


_ALL_ZONES: tuple[Literal["1", "2", "3"], ...] = ("1", "2", "3")

class AzureConfig(_Strict):
    """Azure specifics of a `cloud: azure` stack. Everything but the tenancy and who administers has a secure default."""

    subscription_id: str = Field(pattern=_GUID)
    """The subscription the stack deploys into (the provider is pinned to it)."""
    tenant_id: str = Field(pattern=_GUID)
    """The Entra ID tenant of the subscription (Key Vault, workload identity)."""
    admin_group_object_ids: list[Annotated[str, Field(pattern=_GUID)]] = Field(min_length=1)
    """Entra ID groups that administer the cluster (local accounts are off); include the deployer's."""
    resource_group_name: str | None = Field(default=None, pattern=r"^[-\w.()]{1,89}[-\w()]$")
    """Resource group of the stack. Defaults to `llm-<environment>`."""
    zones: list[Literal["1", "2", "3"]] = Field(default_factory=lambda: list(_ALL_ZONES))
    """Availability zones (`1`, `2`, `3`) of the system pool and, unless a pool names its own, the GPU pools. Defaults to all three."""
    authorized_ip_ranges: list[str] = Field(default_factory=list)
    """Public API server reachable only from these CIDRs. Defaults to none: a private cluster."""
    vnet_cidr: str = "10.50.0.0/16"
    """Address space of a new VNet, /16 to /22: nodes in its first half, API server and endpoints after. Defaults to 10.50.0.0/16."""
    existing_node_subnet_id: str | None = None
    """An existing subnet for the nodes (with the two below). Defaults to a new VNet."""
    existing_api_server_subnet_id: str | None = None
    """An existing subnet delegated to Microsoft.ContainerService/managedClusters for the API server. Defaults to a new VNet."""
    existing_endpoint_subnet_id: str | None = None
    """An existing subnet for the Key Vault private endpoint. Defaults to a new VNet."""
    network_policy: Literal["cilium", "azure"] = "cilium"
    """Network policy engine (Azure CNI overlay): cilium or azure. Defaults to cilium."""
    kubernetes_version: str = versions.AKS_KUBERNETES_VERSION
    """AKS Kubernetes minor version (the `patch` channel keeps it on the newest patch). Defaults to `versions.AKS_KUBERNETES_VERSION`."""
    upgrade_channel: Literal["patch", "stable", "rapid", "node-image"] = "patch"
    """AKS automatic upgrade channel: patch, stable, rapid or node-image. Defaults to patch."""
    sku_tier: Literal["Standard", "Premium"] = "Standard"
    """AKS tier, Standard or Premium (both with the uptime SLA; Free is not offered). Defaults to Standard."""
    system_vm_size: str = Field(default="Standard_D4ds_v5", pattern=r"^Standard_[A-Za-z0-9_]+$")
    """VM size of the system pool (no GPU). Defaults to Standard_D4ds_v5."""
    system_nodes: int = Field(default=3, ge=1, le=10)
    """Nodes of the system pool. Defaults to 3."""
    key_vault_sku: Literal["premium", "standard"] = "premium"
    """Key Vault SKU, premium or standard: premium keeps the key in an HSM (RSA-HSM). Defaults to premium."""
    key_rotation_days: int = Field(default=180, ge=28, le=730)
    """Key Vault rotates the key (a new version) this many days after each version is created. Defaults to 180."""
    log_retention_days: int = Field(default=365, ge=30, le=730)
    """Days the Log Analytics workspace keeps the AKS control-plane logs (kube-audit, kube-audit-admin, guard, ...), 30-730. Defaults to 365."""
    disk_sku: Literal["Premium_LRS", "Premium_ZRS", "PremiumV2_LRS"] = "Premium_LRS"
    """Managed-disk SKU of the model-cache StorageClass: Premium_LRS, Premium_ZRS or PremiumV2_LRS. Defaults to Premium_LRS."""
    shared_host_gpu_pools: list[str] = Field(default_factory=list)
    """GPU pools that run on multi-tenant hosts although `isolation` is dedicated, because Azure
    Dedicated Host runs no NC/ND size. An explicit, reviewed exception. Defaults to none."""

    @field_validator("kubernetes_version")
    @classmethod
    def _aks_version(cls, v: str) -> str:
        if v not in versions.SUPPORTED_KUBERNETES_VERSIONS:
            raise ValueError(f"expected one of {list(versions.SUPPORTED_KUBERNETES_VERSIONS)}, got {shown(v)}")
        return v

    @field_validator("vnet_cidr")
    @classmethod
    def _vnet(cls, v: str) -> str:
        return _cidr_sized(v, 16, 22)

    @model_validator(mode="after")
    def _cross_fields(self) -> AzureConfig:
        for i, cidr in enumerate(self.authorized_ip_ranges):
            _allowlisted_network(f"authorized_ip_ranges[{i}]", cidr, strict=False,
                                 what="the API server (leave the list empty for a private cluster)")
        existing = {f: getattr(self, f) for f in ("existing_node_subnet_id", "existing_api_server_subnet_id",
                                                  "existing_endpoint_subnet_id")}
        given = {f for f, v in existing.items() if v is not None}
        if given and given != set(existing):
            missing = sorted(set(existing) - given)[0]
            raise _FieldError(missing, "expected the node, API server and endpoint subnets together (an existing "
                              f"VNet), got only {sorted(given)}")
        for f in sorted(given):
            if not _AZURE_SUBNET_ID.match(existing[f]):
                raise _FieldError(f, "expected a subnet id (/subscriptions/SUB/resourceGroups/RG/providers/"
                                  f"Microsoft.Network/virtualNetworks/VNET/subnets/NAME), got {existing[f]!r}")
        if len(set(self.zones)) != len(self.zones) or not self.zones:
            raise _FieldError("zones", f"expected distinct zones among '1', '2', '3', got {shown(self.zones)}")
        from ..catalog.azure import GPU_VM_SIZES

        if self.system_vm_size in GPU_VM_SIZES:
            raise _FieldError("system_vm_size", f"expected a VM size without GPUs for the system pool, got {shown(self.system_vm_size)}")
        return self

    def model_problems(self, config: StackConfig, where: str, model: ModelConfig) -> list[str]:
        """What this cloud cannot run of one model: nothing beyond the shared checks."""
        return []

    # What the stack pays for, answered by the settings themselves (llm_infra.planning.cost).
    @property
    def gpu_node_disk_gib(self) -> int:
        """Each GPU node's OS disk (the GPU pool's size, which config does not change)."""
        return GPU_NODE_OS_DISK_GIB

    def system_pool(self, region: str) -> tuple[int, str]:
        """How many system (non-GPU) nodes the stack runs, and of which type."""
        return self.system_nodes, self.system_vm_size

    def nat_gateways(self, region: str) -> int:
        """NAT gateways: one for the stack's VNet."""
        return 1

    def cache_read_mib_s(self, size_gib: int) -> float:
        """A model cache volume's sequential read rate: Premium SSD v2 is provisioned at `CACHE_READ_MIB_S`
        (azure/cluster.py); a Premium SSD tier's follows its size (facts table)."""
        from ..catalog.azure_facts import premium_read_mib_s
        from .models import CACHE_READ_MIB_S

        return float(CACHE_READ_MIB_S) if self.disk_sku == "PremiumV2_LRS" else premium_read_mib_s(size_gib)

    def resource_group(self, environment: str) -> str:
        return self.resource_group_name or f"llm-{environment}"


def _azure_problems(config: StackConfig) -> list[str]:
    """What Azure cannot build from this config (checked before anything is registered)."""
    from ..catalog.azure_facts import ENCRYPTION_AT_HOST, ENCRYPTION_AT_HOST_SOURCE
    from ..catalog.azure import check_vm_size, default_vm_size, dedicated_host_problem

    if config.azure is None:
        return ["azure: expected subscription_id, tenant_id and admin_group_object_ids for cloud 'azure', got nothing"]
    az = config.azure
    problems: list[str] = []
    pools = {p.name for p in config.gpu_pools}
    for j, name in enumerate(az.shared_host_gpu_pools):
        if name not in pools:
            problems.append(f"azure.shared_host_gpu_pools[{j}]: expected the name of a GPU pool {sorted(pools)}, got {shown(name)}")
        elif config.isolation != "dedicated":
            problems.append(f"azure.shared_host_gpu_pools[{j}]: expected only with isolation 'dedicated' (an exception "
                            f"to it), got it with isolation {config.isolation!r}")
    for i, pool in enumerate(config.gpu_pools):
        where = f"gpu_pools[{i}]"
        bad = check_vm_size(pool.gpu, pool.gpus_per_node, pool.instance_type)
        if bad is not None:
            problems.append(f"{where}.{bad[0]}: {bad[1]}")
            continue
        size = pool.instance_type or default_vm_size(pool.gpu, pool.gpus_per_node) or ""
        if size not in ENCRYPTION_AT_HOST:
            # Every GPU pool turns on encryption at host (SECURITY.md 25); a size without it fails at create.
            problems.append(f"{where}.instance_type: expected a VM size that supports encryption at host "
                            f"({ENCRYPTION_AT_HOST_SOURCE.url}), got {size!r}")
        if config.isolation == "dedicated" and pool.name not in az.shared_host_gpu_pools:
            why = dedicated_host_problem(size)
            if why is not None:
                problems.append(f"{where}.instance_type: {why}. With isolation 'dedicated' either use such a size, "
                                f"or name the pool in azure.shared_host_gpu_pools to accept multi-tenant hosts "
                                f"explicitly, or set isolation 'shared'")
        for j, zone in enumerate(pool.zones or []):
            if zone not in az.zones:
                problems.append(f"{where}.zones[{j}]: expected one of the stack's zones {az.zones}, got {shown(zone)}")
        zones = pool.zones if pool.zones is not None else az.zones
        if config.production and len(set(zones)) < 2:
            problems.append(f"{where}.zones: expected at least 2 zones in a production stack, got {shown(zones)}")
    # The stack creates one storage account and one container per model; each model's
    # identity reads its own container only.
    account: tuple[int, str] | None = None
    containers: dict[str, int] = {}
    for i, m in enumerate(config.models):
        scheme, bucket, _prefix = parse_weights_uri(m.weights_uri)
        if scheme != "azureblob":
            continue  # reported by the cloud/scheme check
        where = f"models[{i}].weights_uri"
        name, container = bucket.split("/", 1)
        if account is None:
            account = (i, name)
        elif name != account[1]:
            problems.append(f"{where}: expected the stack's storage account {account[1]!r} (models[{account[0]}]): "
                            f"the stack creates one account, got {shown(name)}")
        if container in containers:
            problems.append(f"{where}: expected a container of the model's own (each model's identity may read "
                            f"its container only; models[{containers[container]}] uses {container!r}), got {shown(container)}")
        containers.setdefault(container, i)
    return problems
