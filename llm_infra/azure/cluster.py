"""AksCluster: a private AKS cluster, etcd encrypted with the Key Vault key, Entra ID only.

- Private API server (or, only when given, a public one limited to authorized IP ranges,
  never 0.0.0.0/0), integrated into the VNet: KMS with a private Key Vault works only
  through API Server VNet Integration (AKS docs, "Use KMS etcd encryption").
- A user-assigned control-plane identity (KMS does not work with a system-assigned one:
  the key permission must exist before the cluster). It gets, before the cluster exists:
  `Key Vault Crypto User` on the key (etcd KMS), `Key Vault Contributor` on the vault
  (AKS creates the KMS private link into the private vault), `Network Contributor` on
  the node and API server subnets, and `Reader` on the Disk Encryption Set (AKS docs,
  "Bring your own keys": the CSI driver encrypts new volumes with the set).
- etcd KMS (`security_profile.azure_key_vault_kms`) with the key's versioned URI, and
  `key_vault_network_access: Private` when the vault is private. Rotation: Key Vault adds a
  version on schedule; AKS keeps using the version in `key_id` until the stack is updated
  with the new one (AKS docs, "Rotate existing keys"), so no version ever expires.
- Node OS disks through the Disk Encryption Set, host encryption on every pool (temp and
  cache disks encrypted too); OIDC issuer and workload identity; local accounts off;
  Entra ID with Azure RBAC and admin groups; Azure CNI overlay with Cilium (or Azure)
  network policy; automatic upgrades on a channel plus node-image OS upgrades.
- A system pool of non-GPU VMs in the stack's zones (CoreDNS, metrics-server, CSI
  controllers); GPU pools are tainted and scale from zero.
- An explicit Kubernetes provider whose kubeconfig authenticates with `kubelogin`
  (Entra ID, `--login azurecli`), built from the cluster's user credentials; a secret.
- A `disk.csi.azure.com` StorageClass whose disks use the Disk Encryption Set.
"""

import base64
import json
import math
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_azure_native as azure_native
import pulumi_kubernetes as k8s
import yaml

from .. import versions
from ..config import CACHE_READ_MIB_S
from ..catalog.azure_facts import CONTROL_PLANE_LOG_CATEGORIES, DISK_ENCRYPTION_SET_ROLE, PREMIUM_V2_BASELINE_IOPS
from .naming import AKS_SERVER_APP_ID, after, assignment_name, resource_id, role_definition_id

STORAGE_CLASS = "llm-encrypted-premium"
SYSTEM_POOL = "system"
POD_CIDR = "192.168.0.0/16"
SERVICE_CIDR = "172.16.0.0/16"
DNS_SERVICE_IP = "172.16.0.10"


class AksClusterArgs(TypedDict):
    subscription_id: str
    """Subscription of the cluster."""
    resource_group_name: str
    """Resource group of the cluster and its identity."""
    location: str
    """Azure region."""
    cluster_name: str
    """Name of the AKS cluster (also its DNS prefix)."""
    admin_group_object_ids: Sequence[str]
    """Entra ID groups given cluster admin; local accounts are off, so someone must be here."""
    node_subnet_id: pulumi.Input[str]
    """Subnet of the nodes."""
    api_server_subnet_id: pulumi.Input[str]
    """Subnet delegated to AKS for API server VNet integration."""
    vault_id: pulumi.Input[str]
    """Resource id of the Key Vault."""
    key_resource_id: pulumi.Input[str]
    """Resource id of the key (scope of the control plane's crypto role)."""
    key_uri_with_version: pulumi.Input[str]
    """Versioned key URI for etcd KMS."""
    disk_encryption_set_id: pulumi.Input[str]
    """Disk Encryption Set for node OS disks and the StorageClass."""
    vault_is_private: NotRequired[bool]
    """Whether the vault's public network access is disabled (KMS reaches it privately). Defaults to `True`."""
    authorized_ip_ranges: NotRequired[Sequence[str]]
    """CIDRs allowed to reach a public API server. Defaults to none: a private cluster."""
    private_cluster_public_fqdn: NotRequired[bool]
    """Publish the private API server's name in public DNS (it resolves to the private address), so a deployer
    network routed into the VNet (peering, VPN, ExpressRoute) reaches it without a link to the AKS-managed
    private DNS zone. Defaults to `False`."""
    log_retention_days: NotRequired[int]
    """Days the Log Analytics workspace keeps the control-plane logs (kube-audit, kube-audit-admin, guard, ...),
    30-730. Defaults to 365."""
    kubernetes_version: NotRequired[str]
    """Kubernetes minor version. Defaults to `versions.AKS_KUBERNETES_VERSION`."""
    upgrade_channel: NotRequired[str]
    """AKS automatic upgrade channel (`patch`, `stable`, `rapid`, `node-image`). Defaults to `patch`."""
    sku_tier: NotRequired[str]
    """`Standard` or `Premium` (both with the uptime SLA). Defaults to `Standard`."""
    network_policy: NotRequired[str]
    """`cilium` or `azure`. Defaults to `cilium`."""
    system_vm_size: NotRequired[str]
    """VM size of the system pool (no GPU). Defaults to `Standard_D4ds_v5`."""
    system_nodes: NotRequired[int]
    """Nodes in the system pool. Defaults to 3."""
    zones: NotRequired[Sequence[str]]
    """Availability zones of the system pool. Defaults to 1, 2 and 3."""
    disk_sku: NotRequired[str]
    """Managed-disk SKU of the StorageClass. Defaults to `Premium_LRS`."""


class AksCluster(pulumi.ComponentResource):
    """A private, KMS-encrypted, Entra-only AKS cluster with workload identity and an encrypted StorageClass."""

    cluster_name: pulumi.Output[str]
    """Name of the AKS cluster."""
    cluster_id: pulumi.Output[str]
    """Resource id of the AKS cluster."""
    oidc_issuer: pulumi.Output[str]
    """The cluster's OIDC issuer URL (workload identity federation)."""
    fqdn: pulumi.Output[str]
    """API server FQDN (the private one for a private cluster)."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig with a `kubelogin` exec credential (a secret)."""
    storage_class: pulumi.Output[str]
    """Name of the StorageClass encrypted through the Disk Encryption Set."""
    control_plane_principal_id: pulumi.Output[str]
    """Principal id of the control-plane identity."""

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        ranges = list(args.get("authorized_ip_ranges") or [])
        for cidr in ranges:
            if cidr.endswith("/0"):
                raise ValueError(f"authorized_ip_ranges: expected an explicit allowlist, got {cidr!r}")
        if not args["admin_group_object_ids"]:
            raise ValueError("admin_group_object_ids: expected at least one Entra ID group (local accounts are off)")
        policy = args.get("network_policy", "cilium")
        if policy not in ("cilium", "azure"):
            raise ValueError(f"network_policy: expected 'cilium' or 'azure', got {policy!r}")
        super().__init__("llm-infra:index:AksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        sub, rg, location = args["subscription_id"], args["resource_group_name"], args["location"]
        cluster_name = args["cluster_name"]
        private = not ranges
        vault_private = args.get("vault_is_private", True)

        identity_name = f"{cluster_name}-control-plane"
        identity = azure_native.managedidentity.UserAssignedIdentity(
            f"{name}-identity", resource_name_=identity_name, resource_group_name=rg, location=location, opts=child)
        identity_id = after(identity, resource_id(sub, rg, "Microsoft.ManagedIdentity", "userAssignedIdentities",
                                                  identity_name))

        def grant(purpose: str, role: str, scope: pulumi.Input[str], why: str) -> azure_native.authorization.RoleAssignment:
            return azure_native.authorization.RoleAssignment(
                f"{name}-{purpose}",
                role_assignment_name=assignment_name(cluster_name, purpose, role),
                principal_id=identity.principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=role_definition_id(sub, role),
                scope=scope,
                description=f"llm-infra {cluster_name} control plane: {why}",
                opts=child,
            )

        grants = [
            grant("kms-key", "Key Vault Crypto User", args["key_resource_id"], "etcd KMS encrypts and decrypts with the key"),
            grant("node-subnet", "Network Contributor", args["node_subnet_id"], "joins nodes and load balancers to the subnet"),
            grant("api-server-subnet", "Network Contributor", args["api_server_subnet_id"], "API server VNet integration"),
            # AKS documents Reader on the Disk Encryption Set for the cluster identity (DISK_ENCRYPTION_SET_ROLE_SOURCE).
            grant("disk-encryption-set", DISK_ENCRYPTION_SET_ROLE, args["disk_encryption_set_id"],
                  "reads the Disk Encryption Set its disks are encrypted through"),
        ]
        if vault_private:
            grants.append(grant("kms-private-link", "Key Vault Contributor", args["vault_id"],
                                "creates the KMS private link into the private vault"))

        zones = list(args.get("zones") or ["1", "2", "3"])
        system_nodes = args.get("system_nodes", 3)
        cluster = azure_native.containerservice.ManagedCluster(
            f"{name}-cluster",
            resource_name_=cluster_name,
            resource_group_name=rg,
            location=location,
            dns_prefix=cluster_name,
            kubernetes_version=args.get("kubernetes_version", versions.AKS_KUBERNETES_VERSION),
            sku=azure_native.containerservice.ManagedClusterSKUArgs(name="Base", tier=args.get("sku_tier", "Standard")),
            identity=azure_native.containerservice.ManagedClusterIdentityArgs(
                type="UserAssigned", user_assigned_identities=[identity_id]),
            enable_rbac=True,
            disable_local_accounts=True,
            aad_profile=azure_native.containerservice.ManagedClusterAADProfileArgs(
                managed=True, enable_azure_rbac=True, admin_group_object_ids=list(args["admin_group_object_ids"])),
            api_server_access_profile=azure_native.containerservice.ManagedClusterAPIServerAccessProfileArgs(
                enable_private_cluster=private,
                enable_private_cluster_public_fqdn=bool(args.get("private_cluster_public_fqdn", False)) if private else None,
                authorized_ip_ranges=None if private else ranges,
                enable_vnet_integration=True,
                subnet_id=args["api_server_subnet_id"],
                disable_run_command=True,
            ),
            security_profile=azure_native.containerservice.ManagedClusterSecurityProfileArgs(
                azure_key_vault_kms=azure_native.containerservice.AzureKeyVaultKmsArgs(
                    enabled=True,
                    key_id=args["key_uri_with_version"],
                    key_vault_network_access="Private" if vault_private else "Public",
                    key_vault_resource_id=args["vault_id"] if vault_private else None,
                ),
                workload_identity=azure_native.containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs(
                    enabled=True),
            ),
            oidc_issuer_profile=azure_native.containerservice.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            disk_encryption_set_id=args["disk_encryption_set_id"],
            network_profile=azure_native.containerservice.ContainerServiceNetworkProfileArgs(
                network_plugin="azure",
                network_plugin_mode="overlay",
                network_dataplane=policy,
                network_policy=policy,
                pod_cidr=POD_CIDR,
                service_cidr=SERVICE_CIDR,
                dns_service_ip=DNS_SERVICE_IP,
                load_balancer_sku="standard",
                outbound_type="loadBalancer",
            ),
            auto_upgrade_profile=azure_native.containerservice.ManagedClusterAutoUpgradeProfileArgs(
                upgrade_channel=args.get("upgrade_channel", "patch"), node_os_upgrade_channel="NodeImage"),
            storage_profile=azure_native.containerservice.ManagedClusterStorageProfileArgs(
                disk_csi_driver=azure_native.containerservice.ManagedClusterStorageProfileDiskCSIDriverArgs(enabled=True)),
            agent_pool_profiles=[azure_native.containerservice.ManagedClusterAgentPoolProfileArgs(
                name=SYSTEM_POOL,
                mode="System",
                vm_size=args.get("system_vm_size", "Standard_D4ds_v5"),
                count=system_nodes,
                enable_auto_scaling=False,
                availability_zones=zones,
                os_type="Linux",
                os_sku="AzureLinux",
                os_disk_type="Managed",
                enable_encryption_at_host=True,
                enable_node_public_ip=False,
                vnet_subnet_id=args["node_subnet_id"],
                type="VirtualMachineScaleSets",
                node_labels={"llm-infra.io/node-role": "system"},
                upgrade_settings=azure_native.containerservice.AgentPoolUpgradeSettingsArgs(max_surge="33%"),
            )],
            tags={"llm-infra.io/cluster": cluster_name},
            # The system pool's size is managed here; GPU pools are separate AgentPool resources.
            opts=child.merge(pulumi.ResourceOptions(depends_on=grants)),
        )
        self.cluster = cluster
        self.control_plane_identity = identity

        # Control-plane logs (audit included) go nowhere until a diagnostic setting routes them.
        retention = args.get("log_retention_days", 365)
        workspace_name = f"{cluster_name}-control-plane-logs"
        workspace = azure_native.operationalinsights.Workspace(
            f"{name}-logs",
            workspace_name=workspace_name, resource_group_name=rg, location=location,
            sku=azure_native.operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=retention,
            # Entra ID only; diagnostic settings deliver over Azure's backbone, so public ingestion stays off.
            features=azure_native.operationalinsights.WorkspaceFeaturesArgs(disable_local_auth=True),
            public_network_access_for_ingestion="Disabled",
            opts=child,
        )
        self.log_workspace_id = after(workspace, resource_id(
            sub, rg, "Microsoft.OperationalInsights", "workspaces", workspace_name))
        azure_native.monitor.DiagnosticSetting(
            f"{name}-control-plane-logs",
            name="llm-infra-control-plane",
            resource_uri=after(cluster, resource_id(sub, rg, "Microsoft.ContainerService", "managedClusters",
                                                    cluster_name)),
            workspace_id=self.log_workspace_id,
            log_analytics_destination_type="Dedicated",
            logs=[azure_native.monitor.DiagnosticsLogSettingsArgs(category=c, enabled=True)
                  for c in CONTROL_PLANE_LOG_CATEGORIES],
            opts=child,
        )

        fqdn = cluster.private_fqdn if private else cluster.fqdn
        credentials = azure_native.containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=rg, resource_name=after(cluster, cluster_name), format="exec",
            opts=pulumi.InvokeOutputOptions(parent=self))
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(fqdn, credentials.kubeconfigs).apply(
                lambda v: kubeconfig(cluster_name, v[0], _ca_data(v[1]))))
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                     opts=child)
        des_id = args["disk_encryption_set_id"]
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=STORAGE_CLASS, labels={"app.kubernetes.io/part-of": "llm-infra"}),
            provisioner="disk.csi.azure.com",
            parameters={
                "skuName": args.get("disk_sku", "Premium_LRS"),
                "kind": "managed",
                "diskEncryptionSetID": des_id,
                "diskEncryptionType": "EncryptionAtRestWithCustomerKey",
                # No SAS export or import of the disks over the network.
                "networkAccessPolicy": "DenyAll",
                "fsType": "ext4",
                # Premium SSD v2 is provisioned at the rate the startup budget reads (MB/s, decimal).
                **({"DiskIOPSReadWrite": str(PREMIUM_V2_BASELINE_IOPS),
                    "DiskMBpsReadWrite": str(math.ceil(CACHE_READ_MIB_S * 2**20 / 1e6))}
                   if args.get("disk_sku", "Premium_LRS") == "PremiumV2_LRS" else {}),
            },
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
        )

        self.cluster_name = after(cluster, cluster_name)
        self.cluster_id = after(cluster, resource_id(sub, rg, "Microsoft.ContainerService", "managedClusters",
                                                     cluster_name))
        self.oidc_issuer = cluster.oidc_issuer_profile.apply(lambda p: p.issuer_url if p else None)
        self.fqdn = fqdn
        self.storage_class = storage_class.metadata.apply(lambda m: m.name if m and m.name else STORAGE_CLASS)
        self.control_plane_principal_id = identity.principal_id
        self.register_outputs({
            "cluster_name": self.cluster_name, "cluster_id": self.cluster_id, "oidc_issuer": self.oidc_issuer,
            "fqdn": self.fqdn, "kubeconfig": self.kubeconfig, "storage_class": self.storage_class,
            "control_plane_principal_id": self.control_plane_principal_id,
        })


def _ca_data(kubeconfigs: Any) -> str | None:
    """The cluster CA from AKS's own user kubeconfig (absent under the offline plan's mocks)."""
    for entry in kubeconfigs or []:
        raw = entry.get("value") if isinstance(entry, dict) else getattr(entry, "value", None)
        if not raw:
            continue
        try:
            config = yaml.safe_load(base64.b64decode(raw))
            return config["clusters"][0]["cluster"]["certificate-authority-data"]
        except (ValueError, KeyError, IndexError, TypeError, yaml.YAMLError):
            return None
    return None


def kubeconfig(cluster_name: str, fqdn: str | None, ca_data: str | None) -> str:
    """A kubeconfig whose credential is an Entra ID token from `kubelogin` (no static token inside)."""
    cluster: dict[str, Any] = {"server": f"https://{fqdn}:443" if fqdn else None}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "kubelogin",
            "args": ["get-token", "--login", "azurecli", "--server-id", AKS_SERVER_APP_ID],
            "interactiveMode": "Never",
        }}}],
    }, indent=2)
