"""AzurePlatformCluster: the whole Azure side of a stack, built from config, handing out the `ClusterContract`.

Order: explicit azure-native provider (pinned to the configured subscription and tenant)
-> resource group -> network -> Key Vault and key (private endpoint first) -> Disk
Encryption Set -> AKS cluster with its system pool -> GPU pools -> model store. Resource
ids are derived from the subscription, group and names, so role-assignment scopes and
the offline plan show real ids.

Prerequisites (once per subscription): the `Microsoft.Compute/EncryptionAtHost` feature
registered (host encryption); the deployer a member of one of `admin_group_object_ids`,
with Owner or User Access Administrator on the subscription (the stack creates role
assignments), and network access to the private API server (a runner in, or peered
with, the VNet): Pulumi creates the Kubernetes objects through it.
"""

from typing import TypedDict

import pulumi
import pulumi_azure_native as azure_native

from ..access import deployer_path
from ..config import StackConfigSpec, cloud_stack_config, parse_weights_uri
from ..contract import PRIVATE_RANGES, ClusterContract, Toleration
from . import naming
from .cluster import AksCluster
from .disk_encryption_set import AzureDiskEncryptionSet
from .gpu_node_pool import GPU_POOL_LABEL, AksGpuNodePool
from .key import AzureKey
from .model_store import AzureModelStore
from .network import AzureNetwork, plan_subnets

# The taint AKS puts on every node of a spot pool (scaleSetPriority Spot).
SPOT_TOLERATION: Toleration = {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot",
                   "effect": "NoSchedule"}


class AzurePlatformClusterArgs(TypedDict):
    config: StackConfigSpec
    """A whole stack config with `cloud: azure` (the fields of a stack's `llm-infra:*` keys), validated like one.
    Python programs may pass a validated `StackConfig`."""


class AzurePlatformCluster(pulumi.ComponentResource):
    """Network, Key Vault key, Disk Encryption Set, private AKS cluster, GPU pools and model store of one environment."""

    cluster_name: pulumi.Output[str]
    """Name of the AKS cluster."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig of the cluster (`kubelogin` credential); a secret."""
    key_vault_id: pulumi.Output[str]
    """Resource id of the Key Vault."""
    key_uri: pulumi.Output[str]
    """Versionless URI of the customer key."""
    storage_account: pulumi.Output[str]
    """Name of the storage account that holds the weights."""
    oidc_issuer: pulumi.Output[str]
    """OIDC issuer of the cluster (workload identity)."""

    def __init__(self, name: str, args: AzurePlatformClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        config = cloud_stack_config(args.get("config"), "azure")
        assert config.region is not None and config.azure is not None  # StackConfig requires both for azure
        super().__init__("llm-infra:index:AzurePlatformCluster", name, None, opts)
        az = config.azure
        env = config.environment
        location = config.region
        sub = az.subscription_id
        rg_name = az.resource_group(env)
        cluster_name = naming.cluster_name(env)

        provider = azure_native.Provider(
            f"{name}-azure", subscription_id=sub, tenant_id=az.tenant_id, location=location,
            opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        group = azure_native.resources.ResourceGroup(
            f"{name}-rg", resource_group_name=rg_name, location=location,
            tags={"llm-infra.io/environment": env, "llm-infra.io/managed-by": "pulumi"},
            # Deleting a resource group deletes everything in it, the retained key vault and model data included
            # (pulumi-azure-native#2522): the group stays with what `pulumi destroy` retains (docs/teardown.md).
            opts=child.merge(pulumi.ResourceOptions(retain_on_delete=True)))
        in_group = child.merge(pulumi.ResourceOptions(depends_on=[group]))

        network = AzureNetwork(f"{name}-network", {
            "subscription_id": sub, "resource_group_name": rg_name, "location": location,
            "vnet_name": f"{cluster_name}-vnet", "vnet_cidr": az.vnet_cidr,
            "existing_node_subnet_id": az.existing_node_subnet_id,
            "existing_api_server_subnet_id": az.existing_api_server_subnet_id,
            "existing_endpoint_subnet_id": az.existing_endpoint_subnet_id,
        }, opts=in_group)

        key = AzureKey(f"{name}-key", {
            "subscription_id": sub, "resource_group_name": rg_name, "location": location, "tenant_id": az.tenant_id,
            "vault_name": naming.key_vault_name(env, sub), "sku": az.key_vault_sku,
            "rotation_days": az.key_rotation_days,
            "private_endpoint_subnet_id": network.endpoint_subnet_id, "vnet_id": network.vnet_id,
        }, opts=in_group)

        des = AzureDiskEncryptionSet(f"{name}-des", {
            "subscription_id": sub, "resource_group_name": rg_name, "location": location,
            "set_name": f"{cluster_name}-des", "vault_id": key.vault_id, "key_uri": key.key_uri,
            "key_resource_id": key.key_resource_id,
        }, opts=in_group)

        aks = AksCluster(f"{name}-aks", {
            "subscription_id": sub, "resource_group_name": rg_name, "location": location,
            "cluster_name": cluster_name, "admin_group_object_ids": az.admin_group_object_ids,
            "node_subnet_id": network.node_subnet_id, "api_server_subnet_id": network.api_server_subnet_id,
            "vault_id": key.vault_id, "key_resource_id": key.key_resource_id,
            "key_uri_with_version": key.key_uri_with_version, "vault_is_private": True,
            "disk_encryption_set_id": des.disk_encryption_set_id,
            "authorized_ip_ranges": az.authorized_ip_ranges, "kubernetes_version": az.kubernetes_version,
            "log_retention_days": az.log_retention_days,
            # The deployer's path (docs/access.md): a routed network resolves the private API server by name.
            "private_cluster_public_fqdn": bool(config.access.deployer_cidrs),
            "upgrade_channel": az.upgrade_channel, "sku_tier": az.sku_tier, "network_policy": az.network_policy,
            "system_vm_size": az.system_vm_size, "system_nodes": az.system_nodes, "zones": az.zones,
            "disk_sku": az.disk_sku,
        }, opts=in_group)

        dedicated = config.isolation == "dedicated"
        self.pools: dict[str, AksGpuNodePool] = {}
        for pool in config.gpu_pools:
            accepted_shared = dedicated and pool.name in az.shared_host_gpu_pools
            # Config validation guarantees a dedicated, non-excepted pool has a size that a
            # host SKU runs; the config's GPU catalog has none today, so no host group is built.
            self.pools[pool.name] = AksGpuNodePool(f"{name}-pool-{pool.name}", {
                "resource_group_name": rg_name,
                "cluster_name": aks.cluster_name,
                "pool": pool.name,
                "gpu": pool.gpu,
                "gpus_per_node": pool.gpus_per_node,
                "vm_size": pool.instance_type,
                "min_nodes": pool.min_nodes,
                "max_nodes": pool.max_nodes,
                "spot": pool.spot,
                "zones": pool.zones if pool.zones is not None else az.zones,
                "node_subnet_id": network.node_subnet_id,
                "isolation": "shared-host-accepted" if accepted_shared else "shared",
            }, opts=child)

        containers: dict[str, str] = {}
        account = ""
        for m in config.models:
            _, bucket, _ = parse_weights_uri(m.weights_uri)
            account, containers[m.name] = bucket.split("/", 1)
        store = AzureModelStore(f"{name}-models", {
            "subscription_id": sub, "tenant_id": az.tenant_id, "resource_group_name": rg_name, "location": location,
            "account_name": account, "containers": containers, "vault_uri": key.vault_uri, "key_name": key.key_name,
            "key_resource_id": key.key_resource_id, "oidc_issuer": aks.oidc_issuer, "cluster_name": cluster_name,
            "endpoint_subnet_id": network.endpoint_subnet_id, "vnet_id": network.vnet_id,
            "azure_provider": provider,
            "retain_data": not config.teardown.delete_model_data,
        }, opts=in_group)

        self.deployer_access = deployer_path(
            config, "private AKS API server",
            "routed into the VNet; the private API server's name published in public DNS (private address) "
            "instead of a link to the AKS-managed private DNS zone")
        self.provider = provider
        self.network = network
        self.key = key
        self.des = des
        self.aks = aks
        self.model_store = store
        self.contract = ClusterContract(
            provider=aks.provider,
            storage_class=aks.storage_class,
            encryption_key=key.key_uri,
            manages_device_plugin=False,  # AKS installs the driver; the device plugin is ours
            bind_model_identity=store.bind,
            oidc_issuer=aks.oidc_issuer,
            metadata_identity_egress=False,  # tokens come from the projected service-account token
            # Blobs are read through the store's private endpoint; in subnets the stack did not
            # carve, its address is not known here, so the private ranges stay open on 443.
            store_egress_cidrs=(plan_subnets(az.vnet_cidr)["endpoints"],) if az.existing_endpoint_subnet_id is None
            else PRIVATE_RANGES,
            zone_label="topology.kubernetes.io/zone",
            gpu_pool_label=GPU_POOL_LABEL,
            # AKS taints every spot node; Triton pods must tolerate it to run on a spot pool.
            workload_tolerations=(SPOT_TOLERATION,) if any(p.spot for p in config.gpu_pools) else (),
        )
        self.cluster_name = aks.cluster_name
        self.kubeconfig = aks.kubeconfig
        self.key_vault_id = key.vault_id
        self.key_uri = key.key_uri
        self.storage_account = store.account_name
        self.oidc_issuer = aks.oidc_issuer
        self.register_outputs({"cluster_name": self.cluster_name, "kubeconfig": self.kubeconfig,
                               "key_vault_id": self.key_vault_id, "key_uri": self.key_uri,
                               "storage_account": self.storage_account, "oidc_issuer": self.oidc_issuer})

    def stack_outputs(self) -> dict[str, pulumi.Output]:
        """What a stack should export: the kubeconfig (secret) and the names users need."""
        return {"kubeconfig": pulumi.Output.secret(self.kubeconfig), "cluster_name": self.cluster_name,
                "storage_account": self.storage_account, "key_vault_id": self.key_vault_id,
                "key_uri": self.key_uri, "deployer_access": pulumi.Output.from_input(self.deployer_access)}
