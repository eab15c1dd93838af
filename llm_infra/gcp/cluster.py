"""GkeCluster: a private GKE Standard cluster, its system nodes, a Kubernetes provider and an encrypted StorageClass.

Following terraform-google-kubernetes-engine's `safer-cluster` defaults:

- private nodes and a private endpoint; only the configured master authorized networks
  reach it (enforced on the private endpoint too); no Google public CIDRs;
- Kubernetes Secrets encrypted in etcd with the customer key (`database_encryption`);
- Workload Identity (`<project>.svc.id.goog`), shielded nodes, legacy ABAC off, no client
  certificate, a release channel, deletion protection;
- Dataplane V2 (`ADVANCED_DATAPATH`), which enforces NetworkPolicies;
- the default node pool removed (it exists briefly at creation, so it too runs as the
  minimal node service account with the hardened node config), and a small, untainted
  system node pool for kube-system, DNS and the monitoring agents.

The Kubernetes provider authenticates with `gke-gcloud-auth-plugin` (short-lived tokens,
no credential in the kubeconfig); the kubeconfig output is still a secret. The StorageClass
for the model caches is a pd-balanced (or pd-ssd) disk encrypted with the customer key.
"""

import json
from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from . import naming
from .node_config import hardened_node_config

STORAGE_CLASS = "llm-encrypted-pd"
SYSTEM_NODE_LABEL = "llm-infra.io/node-role"
CSI_PROVISIONER = "pd.csi.storage.gke.io"
CONTROL_PLANE_LOGS = ["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS"]


class GkeAuthorizedNetwork(TypedDict):
    """A CIDR block allowed to reach the cluster's control plane."""
    cidr_block: str
    """CIDR block, e.g. 203.0.113.0/24."""
    display_name: NotRequired[str]
    """Label shown in the console. Defaults to the CIDR block."""


class GkeClusterArgs(TypedDict):
    project: str
    """Project of the cluster."""
    region: str
    """Region of the (regional) cluster: three control-plane replicas."""
    cluster_name: str
    """Name of the GKE cluster."""
    zones: Sequence[str]
    """Zones of the nodes."""
    network: pulumi.Input[str]
    """VPC network."""
    subnetwork: pulumi.Input[str]
    """Subnetwork of the nodes."""
    pods_range_name: pulumi.Input[str]
    """Secondary range of the pods."""
    services_range_name: pulumi.Input[str]
    """Secondary range of the services."""
    master_authorized_networks: Sequence[GkeAuthorizedNetwork]
    """The networks that may reach the private endpoint; never 0.0.0.0/0."""
    key_id: pulumi.Input[str]
    """Customer key for Secrets, boot disks and the StorageClass."""
    node_service_account: pulumi.Input[str]
    """Email of the dedicated minimal node service account."""
    master_cidr: NotRequired[str]
    """The control plane's /28. Defaults to 172.16.0.32/28."""
    release_channel: NotRequired[str]
    """`RAPID`, `REGULAR` or `STABLE`. Defaults to `REGULAR`."""
    system_machine_type: NotRequired[str]
    """Machine type of the system nodes. Defaults to `e2-standard-4`."""
    system_nodes_per_zone: NotRequired[int]
    """System nodes per zone. Defaults to 1."""
    cache_disk_type: NotRequired[str]
    """`pd-balanced` or `pd-ssd` for the StorageClass. Defaults to `pd-balanced`."""
    deletion_protection: NotRequired[bool]
    """GKE deletion protection. Defaults to `True`."""
    gateway_api: NotRequired[bool]
    """Enable GKE's Gateway API controller (standard channel), for the inference Gateway. Defaults to false."""


class GkeCluster(pulumi.ComponentResource):
    """A private, CMEK-encrypted, Workload-Identity GKE Standard cluster with Dataplane V2."""

    cluster_name: pulumi.Output[str]
    """Name of the GKE cluster."""
    endpoint: pulumi.Output[str]
    """Private endpoint of the control plane."""
    workload_pool: pulumi.Output[str]
    """Workload Identity pool (`<project>.svc.id.goog`)."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig with a `gke-gcloud-auth-plugin` exec credential (a secret)."""
    storage_class: pulumi.Output[str]
    """Name of the StorageClass encrypted with the customer key."""

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        networks = [(n["cidr_block"], n.get("display_name", "")) for n in args["master_authorized_networks"]]
        if not networks:
            raise ValueError("master_authorized_networks: expected at least one network, got none")
        for cidr, _ in networks:
            if cidr.endswith("/0"):
                raise ValueError(f"master_authorized_networks: expected explicit networks, got {cidr!r}")
        channel = args.get("release_channel", "REGULAR")
        if channel not in ("RAPID", "REGULAR", "STABLE"):
            raise ValueError(f"release_channel: expected 'RAPID', 'REGULAR' or 'STABLE', got {channel!r}")
        disk_type = args.get("cache_disk_type", "pd-balanced")
        if disk_type not in ("pd-balanced", "pd-ssd"):
            raise ValueError(f"cache_disk_type: expected 'pd-balanced' or 'pd-ssd', got {disk_type!r}")
        super().__init__("llm-infra:index:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project, region, cluster_name = args["project"], args["region"], args["cluster_name"]
        zones = list(args["zones"])
        key_id = args["key_id"]
        pool = naming.workload_pool(project)
        system_labels = {SYSTEM_NODE_LABEL: "system"}
        resource_labels = {"llm-infra-cluster": cluster_name}

        def node_config(cls, machine_type: str) -> object:
            return cls(**hardened_node_config(
                machine_type=machine_type, service_account=args["node_service_account"], key_id=key_id,
                disk_size_gb=100, labels=system_labels, resource_labels=resource_labels))

        system_machine = args.get("system_machine_type", "e2-standard-4")
        cluster = gcp.container.Cluster(
            f"{name}-cluster",
            name=cluster_name,
            project=project,
            location=region,
            node_locations=zones,
            network=args["network"],
            subnetwork=args["subnetwork"],
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=args["pods_range_name"],
                services_secondary_range_name=args["services_range_name"],
                stack_type="IPV4",
            ),
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=True,
                master_ipv4_cidr_block=args.get("master_cidr", "172.16.0.32/28"),
            ),
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                    cidr_block=cidr, display_name=display or cidr) for cidr, display in networks],
                gcp_public_cidrs_access_enabled=False,
                private_endpoint_enforcement_enabled=True,
            ),
            database_encryption=gcp.container.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=key_id),
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(workload_pool=pool),
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            master_auth=gcp.container.ClusterMasterAuthArgs(
                client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                    issue_client_certificate=False)),
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=channel),
            datapath_provider="ADVANCED_DATAPATH",
            addons_config=gcp.container.ClusterAddonsConfigArgs(
                gce_persistent_disk_csi_driver_config=gcp.container.ClusterAddonsConfigGcePersistentDiskCsiDriverConfigArgs(
                    enabled=True),
            ),
            logging_config=gcp.container.ClusterLoggingConfigArgs(enable_components=CONTROL_PLANE_LOGS),
            # GKE's managed DCGM collects GPU metrics from the GKE-installed driver (COS keeps it
            # outside the paths a stock dcgm-exporter looks in) into Managed Service for Prometheus.
            monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
                enable_components=["SYSTEM_COMPONENTS", "DCGM"],
                managed_prometheus=gcp.container.ClusterMonitoringConfigManagedPrometheusArgs(enabled=True),
            ),
            # The default pool is created and then removed; it runs hardened meanwhile.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=node_config(gcp.container.ClusterNodeConfigArgs, system_machine),
            deletion_protection=args.get("deletion_protection", True),
            gateway_api_config=gcp.container.ClusterGatewayApiConfigArgs(channel="CHANNEL_STANDARD")
            if args.get("gateway_api", False) else None,
            resource_labels=resource_labels,
            opts=child,
        )
        self.cluster = cluster

        system_pool = gcp.container.NodePool(
            f"{name}-system",
            name="system",
            project=project,
            location=region,
            cluster=cluster.name,
            node_locations=zones,
            node_count=args.get("system_nodes_per_zone", 1),
            node_config=node_config(gcp.container.NodePoolNodeConfigArgs, system_machine),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(max_surge=1, max_unavailable=0),
            opts=child,
        )
        self.system_pool = system_pool

        ca = cluster.master_auth.apply(lambda a: a.cluster_ca_certificate if a else None)
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.endpoint, ca).apply(
                lambda v: kubeconfig(v[0], v[1], cluster_name, project, region)))
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                     opts=child.merge(pulumi.ResourceOptions(depends_on=[system_pool])))
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=STORAGE_CLASS, labels={"app.kubernetes.io/part-of": "llm-infra"}),
            provisioner=CSI_PROVISIONER,
            # The Compute Engine service agent encrypts the disks; GcpKey lets it use the key.
            parameters={"type": disk_type, "disk-encryption-kms-key": key_id, "csi.storage.k8s.io/fstype": "ext4"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider),
        )

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.workload_pool = pulumi.Output.from_input(pool)
        self.storage_class = storage_class.metadata.apply(lambda m: m.name if m and m.name else STORAGE_CLASS)
        self.register_outputs({
            "cluster_name": self.cluster_name, "endpoint": self.endpoint, "workload_pool": self.workload_pool,
            "kubeconfig": self.kubeconfig, "storage_class": self.storage_class,
        })


def kubeconfig(endpoint: str | None, ca_data: str | None, cluster_name: str, project: str, region: str) -> str:
    """A kubeconfig whose credential is `gke-gcloud-auth-plugin` (no long-lived token inside)."""
    context = f"gke_{project}_{region}_{cluster_name}"
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": f"https://{endpoint}" if endpoint else None,
                                                   "certificate-authority-data": ca_data}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "users": [{"name": context, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "gke-gcloud-auth-plugin",
            "installHint": "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
            "provideClusterInfo": True,
            "interactiveMode": "Never",
        }}}],
    }, indent=2)
