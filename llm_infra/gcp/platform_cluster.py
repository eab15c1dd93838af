"""GcpPlatformCluster: the whole GCP side of a stack, built from config, handing out the `ClusterContract`.

Order: explicit GCP provider (pinned to the configured project and region) -> key (and
the service agents' use of it) -> network -> node service account -> private GKE
cluster with its system nodes -> GPU pools -> model store. Every name is fixed by the
environment (see `naming`), so IAM bindings name identities before they exist and the
offline plan shows real names.

The contract says: GKE runs the NVIDIA device plugin itself (GPU pools install the
driver through `gpu_driver_installation_config`), and pods obtain their Workload Identity
tokens from the GKE metadata server at 169.254.169.254, which serves only the pod's own
identity (node metadata mode `GKE_METADATA`).
"""

from typing import TypedDict

import pulumi
import pulumi_gcp as gcp

from ..access import deployer_path
from ..config import StackConfigSpec, cloud_stack_config
from ..contract import ClusterContract
from . import naming
from .access import export_routes_to_control_plane
from .cluster import GkeCluster
from ..catalog.gcp_facts import PRIVATE_GOOGLE_APIS_CIDR
from .gpu_node_pool import GPU_POOL_LABEL, GkeGpuNodePool
from .key import GcpKey
from .model_store import GcsModelStore
from .network import GcpNetwork
from .node_service_account import GkeNodeServiceAccount


class GcpPlatformClusterArgs(TypedDict):
    config: StackConfigSpec
    """A whole stack config with `cloud: gcp` (the fields of a stack's `llm-infra:*` keys), validated like one.
    Python programs may pass a validated `StackConfig`."""


class GcpPlatformCluster(pulumi.ComponentResource):
    """Key, network, private GKE cluster, GPU pools and model store of one environment."""

    cluster_name: pulumi.Output[str]
    """Name of the GKE cluster."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig of the cluster (`gke-gcloud-auth-plugin` credential); a secret."""
    key_id: pulumi.Output[str]
    """Resource id of the Cloud KMS key."""
    model_bucket: pulumi.Output[str]
    """Name of the GCS bucket that holds the weights."""
    workload_pool: pulumi.Output[str]
    """Workload Identity pool of the cluster."""

    def __init__(self, name: str, args: GcpPlatformClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        config = cloud_stack_config(args.get("config"), "gcp")
        assert config.region is not None and config.gcp is not None  # StackConfig requires both for gcp
        super().__init__("llm-infra:index:GcpPlatformCluster", name, None, opts)
        g = config.gcp
        region, project = config.region, g.project_id
        cluster_name = naming.cluster_name(config.environment)
        zones = g.node_zones(region)

        provider = gcp.Provider(
            f"{name}-gcp", project=project, region=region,
            default_labels={"llm-infra-environment": config.environment, "llm-infra-managed-by": "pulumi"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=provider)

        key = GcpKey(f"{name}-key", {
            "project": project, "project_number": g.project_number, "location": region, "name": cluster_name,
            "rotation_days": g.key_rotation_days, "protection_level": g.key_protection_level,
        }, opts=child)

        network = GcpNetwork(f"{name}-network", {
            "project": project, "region": region, "name": cluster_name,
            "subnet_cidr": g.subnet_cidr, "pods_cidr": g.pods_cidr, "services_cidr": g.services_cidr,
            "existing_network": g.network, "existing_subnetwork": g.subnetwork,
            "existing_pods_range_name": g.pods_range_name, "existing_services_range_name": g.services_range_name,
        }, opts=child)

        node_sa: pulumi.Input[str]
        if g.node_service_account_email:
            node_sa = g.node_service_account_email
        else:
            node_sa = GkeNodeServiceAccount(f"{name}-node-sa", {
                "project": project, "account_id": naming.node_service_account_id(cluster_name)}, opts=child).email

        gke = GkeCluster(f"{name}-gke", {
            "project": project,
            "region": region,
            "cluster_name": cluster_name,
            "zones": zones,
            "network": network.network,
            "subnetwork": network.subnetwork,
            "pods_range_name": network.pods_range_name,
            "services_range_name": network.services_range_name,
            "master_authorized_networks": [{"cidr_block": n.cidr_block, "display_name": n.display_name}
                                           for n in g.master_authorized_networks],
            "master_cidr": g.master_cidr,
            "key_id": key.key_id,
            "node_service_account": node_sa,
            "release_channel": g.release_channel,
            "system_machine_type": g.system_machine_type,
            "system_nodes_per_zone": g.system_nodes_per_zone,
            "cache_disk_type": g.cache_disk_type,
            "deletion_protection": config.teardown.cluster_deletion_protection is not False,
        }, opts=child)

        # The deployer's path to the private endpoint (docs/access.md).
        if config.access.deployer_cidrs:
            export_routes_to_control_plane(f"{name}-api", gke.cluster, project, network.network, child)
        self.deployer_access = deployer_path(
            config, "private GKE endpoint",
            "inside gcp.master_authorized_networks; the VPC's custom routes (VPN, Interconnect) exported to the "
            "control plane's peering")

        self.pools: dict[str, GkeGpuNodePool] = {}
        for pool in config.gpu_pools:
            self.pools[pool.name] = GkeGpuNodePool(f"{name}-pool-{pool.name}", {
                "project": project,
                "region": region,
                "cluster": gke.cluster_name,
                "cluster_name": cluster_name,
                "pool": pool.name,
                "gpu": pool.gpu,
                "gpus_per_node": pool.gpus_per_node,
                "machine_type": pool.instance_type,
                "zones": pool.zones or zones,
                "min_nodes": pool.min_nodes,
                "max_nodes": pool.max_nodes,
                "spot": pool.spot,
                "sole_tenant": config.isolation == "dedicated",
                "key_id": key.key_id,
                "service_account": node_sa,
                "gpu_driver_version": g.gpu_driver_version,
                "disk_size_gb": g.node_disk_size_gb,
            }, opts=child.merge(pulumi.ResourceOptions(depends_on=[gke.system_pool])))

        bucket = g.model_bucket or naming.default_model_bucket(project, config.environment)
        store = GcsModelStore(f"{name}-models", {
            "project": project, "bucket_name": bucket, "location": region, "key_id": key.key_id,
            "cluster_name": cluster_name, "models": [m.name for m in config.models],
            "retain_data": not config.teardown.delete_model_data, "force_destroy": config.teardown.delete_model_data,
        }, opts=child)

        self.provider = provider
        self.key = key
        self.network = network
        self.gke = gke
        self.model_store = store
        issuer = gke.cluster_name.apply(
            lambda c: f"https://container.googleapis.com/v1/projects/{project}/locations/{region}/clusters/{c}")
        self.contract = ClusterContract(
            provider=gke.provider,
            storage_class=gke.storage_class,
            encryption_key=key.key_id,
            manages_device_plugin=True,  # GKE installs the driver and runs the NVIDIA device plugin
            manages_gpu_metrics=True,  # GKE's managed DCGM (enabled on the cluster) collects GPU metrics
            bind_model_identity=store.bind,
            oidc_issuer=issuer,
            metadata_identity_egress=True,  # Workload Identity tokens come from the GKE metadata server
            # In a network the stack creates, Google's APIs resolve to private.googleapis.com only.
            public_egress_cidrs=(PRIVATE_GOOGLE_APIS_CIDR,) if network.created else None,
            zone_label="topology.kubernetes.io/zone",
            gpu_pool_label=GPU_POOL_LABEL,
        )
        self.cluster_name = gke.cluster_name
        self.kubeconfig = gke.kubeconfig
        self.key_id = key.key_id
        self.model_bucket = store.bucket_name
        self.workload_pool = gke.workload_pool
        self.register_outputs({"cluster_name": self.cluster_name, "kubeconfig": self.kubeconfig,
                               "key_id": self.key_id, "model_bucket": self.model_bucket,
                               "workload_pool": self.workload_pool})

    def stack_outputs(self) -> dict[str, pulumi.Output]:
        """What a stack should export: the kubeconfig (secret) and the names users need."""
        return {"kubeconfig": pulumi.Output.secret(self.kubeconfig), "cluster_name": self.cluster_name,
                "model_bucket": self.model_bucket, "kms_key_id": self.key_id,
                "deployer_access": pulumi.Output.from_input(self.deployer_access)}
