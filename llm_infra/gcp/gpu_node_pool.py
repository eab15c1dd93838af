"""GkeGpuNodePool: one GKE node pool of identical GPU nodes, sole-tenant where isolation is dedicated.

- Guest accelerators with GKE-managed driver installation (`gpu_driver_version`); GKE
  then runs the NVIDIA device plugin itself, so the Kubernetes layer deploys none.
- A machine type that matches the GPU (`machine_types`): G2 for L4, A2 High/Ultra for
  A100 40/80 GB, A3 High for H100, A3 Ultra for H200, N1 for T4.
- The hardened node config (`node_config`): minimal node service account, GKE metadata
  server, shielded nodes with secure boot and integrity monitoring, boot disk encrypted
  with the customer key.
- Taint `nvidia.com/gpu=present:NoSchedule` (GKE adds it to GPU pools too; it is spelled
  out so that the plan and the rules see it) and label `llm-infra.io/gpu-pool=<pool>`.
- Autoscaling (GKE's own cluster autoscaler) from `min_nodes`, which may be 0, to
  `max_nodes` across the pool's zones; Spot VMs where the pool says `spot`.
- Sole tenancy (`sole_tenant`): a node template of the GPU family's sole-tenant node type
  and one autoscaled node group per zone; the pool's nodes carry node affinity to exactly
  those groups, so they never share a physical host with another project's VMs.
"""

import math
from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp

from ..contract import DEFAULT_GPU_POOL_LABEL as GPU_POOL_LABEL
from ..contract import GPU_TAINT_KEY
from . import naming
from ..catalog.gcp import GPU_FAMILIES, SOLE_TENANT_GPUS_PER_NODE, check_machine_type, machine_type_for
from .node_config import hardened_node_config

NODE_GROUP_AFFINITY_KEY = "compute.googleapis.com/node-group-name"


class GkeGpuNodePoolArgs(TypedDict):
    project: str
    """Project of the pool."""
    region: str
    """Region of the (regional) cluster."""
    cluster: pulumi.Input[str]
    """Name of the GKE cluster."""
    cluster_name: str
    """Plain cluster name, for the names of the sole-tenant template and groups."""
    pool: str
    """Pool name (a DNS label): the value of the `llm-infra.io/gpu-pool` node label."""
    gpu: str
    """GPU model, e.g. `nvidia-l4`."""
    zones: Sequence[str]
    """Zones of the pool's nodes."""
    key_id: pulumi.Input[str]
    """Customer key for the boot disks."""
    service_account: pulumi.Input[str]
    """Email of the dedicated minimal node service account."""
    gpus_per_node: NotRequired[int]
    """GPUs per node. Defaults to 1."""
    machine_type: NotRequired[str | None]
    """Compute Engine machine type. Defaults to the table in `machine_types` for the GPU and count."""
    min_nodes: NotRequired[int]
    """Minimum nodes of the whole pool (0 lets it scale to zero). Defaults to 0."""
    max_nodes: NotRequired[int]
    """Maximum nodes of the whole pool. Defaults to 2."""
    spot: NotRequired[bool]
    """Spot VMs. Defaults to `False` (on-demand)."""
    sole_tenant: NotRequired[bool]
    """Run on sole-tenant nodes of the pool's own node groups. Defaults to `True`."""
    gpu_driver_version: NotRequired[str]
    """`DEFAULT` or `LATEST` NVIDIA driver installed by GKE. Defaults to `DEFAULT`."""
    disk_size_gb: NotRequired[int]
    """Boot disk size of each node. Defaults to 200."""


class GkeGpuNodePool(pulumi.ComponentResource):
    """A GPU-only GKE node pool: tainted, labelled, shielded, CMEK boot disks, optionally sole-tenant."""

    node_pool_name: pulumi.Output[str]
    """Name of the GKE node pool."""
    machine_type: pulumi.Output[str]
    """Machine type of the nodes."""
    node_groups: pulumi.Output[list[str]]
    """Names of the pool's sole-tenant node groups (empty without sole tenancy)."""

    def __init__(self, name: str, args: GkeGpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        gpu, gpus = args["gpu"], args.get("gpus_per_node", 1)
        spot, sole_tenant = args.get("spot", False), args.get("sole_tenant", True)
        bad = check_machine_type(gpu, gpus, args.get("machine_type"), sole_tenant=sole_tenant, spot=spot)
        if bad is not None:
            raise ValueError(f"{bad[0]}: {bad[1]}")
        min_nodes, max_nodes = args.get("min_nodes", 0), args.get("max_nodes", 2)
        if not 0 <= min_nodes <= max_nodes or max_nodes < 1:
            raise ValueError(f"max_nodes: expected >= max(1, min_nodes {min_nodes}), got {max_nodes}")
        zones = list(args["zones"])
        if not zones:
            raise ValueError("zones: expected at least one zone, got none")
        driver = args.get("gpu_driver_version", "DEFAULT")
        if driver not in ("DEFAULT", "LATEST"):
            raise ValueError(f"gpu_driver_version: expected 'DEFAULT' or 'LATEST', got {driver!r}")
        super().__init__("llm-infra:index:GkeGpuNodePool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        family = GPU_FAMILIES[gpu]
        machine_type = machine_type_for(gpu, gpus, args.get("machine_type"))
        project, region, pool = args["project"], args["region"], args["pool"]
        base = naming.fit(f"{args['cluster_name']}-{pool}", 50)

        extra: dict = {}
        group_names: list[str] = []
        if sole_tenant:
            node_type = family.sole_tenant_node_type
            assert node_type is not None  # check_machine_type rejected the others
            template = gcp.compute.NodeTemplate(
                f"{name}-node-template",
                name=base,
                project=project,
                region=region,
                node_type=node_type,
                accelerators=[gcp.compute.NodeTemplateAcceleratorArgs(
                    accelerator_type=family.accelerator, accelerator_count=SOLE_TENANT_GPUS_PER_NODE)],
                node_affinity_labels={"llm-infra-gpu-pool": pool},
                server_binding=gcp.compute.NodeTemplateServerBindingArgs(type="RESTART_NODE_ON_ANY_SERVER"),
                description=f"llm-infra {args['cluster_name']}: sole-tenant hosts of GPU pool {pool}",
                opts=child,
            )
            # Enough hosts in each zone for the whole pool (the autoscaler may put it all in one zone).
            vms_per_host = max(1, SOLE_TENANT_GPUS_PER_NODE // gpus)
            max_hosts = max(1, math.ceil(max_nodes / vms_per_host))
            min_hosts = math.ceil(math.ceil(min_nodes / len(zones)) / vms_per_host)
            for zone in zones:
                group_name = naming.fit(f"{base}-{zone.rsplit('-', 1)[-1]}", 63)
                gcp.compute.NodeGroup(
                    f"{name}-node-group-{zone}",
                    name=group_name,
                    project=project,
                    zone=zone,
                    node_template=template.id,
                    initial_size=min_hosts,
                    autoscaling_policy=gcp.compute.NodeGroupAutoscalingPolicyArgs(
                        mode="ON", min_nodes=min_hosts, max_nodes=max_hosts),
                    description=f"llm-infra {args['cluster_name']}: GPU pool {pool} in {zone}",
                    opts=child,
                )
                group_names.append(group_name)
            extra["sole_tenant_config"] = {"node_affinities": [
                {"key": NODE_GROUP_AFFINITY_KEY, "operator": "IN", "values": group_names}]}

        labels = {GPU_POOL_LABEL: pool, "llm-infra.io/gpu": gpu}
        config = hardened_node_config(
            machine_type=machine_type,
            service_account=args["service_account"],
            key_id=args["key_id"],
            disk_size_gb=args.get("disk_size_gb", 200),
            labels=labels,
            taints=[{"key": GPU_TAINT_KEY, "value": "present", "effect": "NO_SCHEDULE"}],
            resource_labels={"llm-infra-cluster": args["cluster_name"], "llm-infra-gpu-pool": pool},
            guest_accelerators=[{
                "type": family.accelerator,
                "count": gpus,
                "gpu_driver_installation_config": {"gpu_driver_version": driver},
            }],
            spot=spot,
            **extra,
        )
        node_pool = gcp.container.NodePool(
            f"{name}-node-pool",
            name=pool,
            project=project,
            location=region,
            cluster=args["cluster"],
            node_locations=zones,
            initial_node_count=math.ceil(min_nodes / len(zones)),
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=min_nodes,
                total_max_node_count=max_nodes,
                # Spot capacity comes from wherever it is free; on-demand pools stay spread across zones.
                location_policy="ANY" if spot else "BALANCED",
            ),
            node_config=gcp.container.NodePoolNodeConfigArgs(**config),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            # GPU capacity is scarce: replace nodes one at a time without a surge node.
            upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(max_surge=0, max_unavailable=1),
            # GKE's cluster autoscaler owns the node count once the pool exists.
            opts=child.merge(pulumi.ResourceOptions(ignore_changes=["initialNodeCount"])),
        )
        self.node_pool = node_pool
        self.node_pool_name = node_pool.name
        self.machine_type = pulumi.Output.from_input(machine_type)
        self.node_groups = pulumi.Output.from_input(group_names)
        self.register_outputs({"node_pool_name": self.node_pool_name, "machine_type": self.machine_type,
                               "node_groups": self.node_groups})
